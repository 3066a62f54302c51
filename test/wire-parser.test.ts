import { randomBytes, createHash } from 'node:crypto'
import { once } from 'node:events'
import t from 'tap'
import Wire from 'bittorrent-protocol'
import { BufferPool, PieceHasher } from '../src/engine/hasher.js'
import { BoundedWire, MAX_MESSAGE_BYTES, fieldsInRange } from '../src/engine/wire.js'

const INFO_HASH = 'a'.repeat(40)
const PEER_ID = 'b'.repeat(40)

/** Everything a real bittorrent-protocol wire sends for a handshake and a mix of messages. */
async function senderBytes (block: Uint8Array): Promise<Buffer> {
  const sender = new Wire()
  const chunks: Buffer[] = []
  sender.on('data', (chunk: Uint8Array) => chunks.push(Buffer.from(chunk)))
  sender.handshake(INFO_HASH, PEER_ID, { dht: false, fast: false })
  sender.bitfield(Buffer.from([0b10100000, 0]))
  sender.have(7)
  sender.unchoke()
  sender.piece(3, 16_384, block)
  sender.have(9)
  sender.piece(4, 0, block)
  sender.choke()
  await new Promise((resolve) => setImmediate(resolve))
  sender.destroy()
  return Buffer.concat(chunks)
}

interface Received {
  events: string[]
  blocks: Buffer[]
  bitfield?: Uint8Array
}

function receiver (): { wire: BoundedWire; received: Received } {
  const wire = new BoundedWire()
  const received: Received = { events: [], blocks: [] }
  wire.on('handshake', (infoHash: string) => received.events.push(`handshake ${infoHash}`))
  wire.on('bitfield', (bitfield: { buffer: Uint8Array }) => { received.events.push('bitfield'); received.bitfield = bitfield.buffer })
  wire.on('have', (index: number) => received.events.push(`have ${index}`))
  wire.on('unchoke', () => received.events.push('unchoke'))
  wire.on('choke', () => received.events.push('choke'))
  wire.on('piece', (index: number, offset: number, data: Uint8Array) => {
    received.events.push(`piece ${index} ${offset} ${data.length}`)
    received.blocks.push(Buffer.from(data)) // what the torrent does: copy at once
  })
  return { wire, received }
}

const EXPECTED = ['handshake ' + INFO_HASH, 'bitfield', 'have 7', 'unchoke', 'piece 3 16384 16384', 'have 9', 'piece 4 0 16384', 'choke']

t.test('every split of the byte stream parses to the same messages, from a reused read buffer too', async (t) => {
  const block = randomBytes(16_384)
  const stream = await senderBytes(block)
  // Chunk sizes around the message boundaries, and random ones.
  const sizes = [1, 3, 4, 5, 13, 17, 68, 1000, 16_383, 16_397, 65_536, stream.length]
  for (let i = 0; i < 8; i++) sizes.push(1 + Math.floor(Math.random() * 20_000))
  for (const transient of [false, true]) {
    for (const size of sizes) {
      const { wire, received } = receiver()
      const shared = Buffer.alloc(65_536)
      for (let at = 0; at < stream.length; at += size) {
        const chunk = stream.subarray(at, Math.min(stream.length, at + size))
        if (transient) {
          chunk.copy(shared)
          wire.receive(shared.subarray(0, chunk.length), true)
          shared.fill(0xee) // the next read overwrites the buffer
        } else {
          wire.receive(Buffer.from(chunk), false)
        }
      }
      const label = `${transient ? 'reused buffer' : 'fresh chunks'} of ${size} bytes`
      t.same(received.events, EXPECTED, label)
      t.ok(received.blocks.every((b) => b.equals(block)), `${label}: blocks intact`)
      // The wire keeps the bitfield and sets the bits of later haves (7 and 9) in it.
      t.same([...received.bitfield ?? []], [0b10100001, 0b01000000], `${label}: the kept bitfield is its own copy`)
      wire.destroy()
    }
  }
})

t.test('a message longer than the cap ends the wire before it is buffered', async (t) => {
  const { wire } = receiver()
  const stream = await senderBytes(randomBytes(16))
  const handshakeLength = 68
  wire.receive(stream.subarray(0, handshakeLength), false)
  const header = Buffer.alloc(5)
  header.writeUInt32BE(MAX_MESSAGE_BYTES + 1, 0)
  header[4] = 7
  wire.receive(header, true)
  t.ok(wire.oversizeMessage, 'flagged as oversized')
  wire.receive(Buffer.alloc(64 * 1024), true)
  t.equal((wire as unknown as { _bufferSize: number })._bufferSize, 0, 'nothing after it is buffered')
  await once(wire, 'close')
  t.pass('the wire closes')
})

t.test('piece indexes, offsets and lengths of 2^31 or more are out of range, in every message that has them', async (t) => {
  const message = (id: number, ...fields: number[]): Buffer => {
    const bytes = Buffer.alloc(1 + fields.length * 4)
    bytes[0] = id
    fields.forEach((field, i) => bytes.writeUInt32BE(field, 1 + i * 4))
    return bytes
  }
  // have, request, piece (its header), cancel, suggest, reject, allowed-fast
  const withFields: Array<[number, number]> = [[4, 1], [6, 3], [7, 2], [8, 3], [13, 1], [16, 3], [17, 1]]
  for (const [id, count] of withFields) {
    t.ok(fieldsInRange(message(id, ...Array<number>(count).fill(0x7fffffff))), `id ${id} at 2^31 - 1`)
    for (let field = 0; field < count; field++) {
      const fields = Array<number>(count).fill(1)
      fields[field] = 0x80000000
      t.notOk(fieldsInRange(message(id, ...fields)), `id ${id}, field ${field} at 2^31`)
    }
  }
  t.ok(fieldsInRange(message(5, 0xffffffff)), 'a bitfield is bytes, not a number')
  t.ok(fieldsInRange(message(20, 0xffffffff)), 'an extended message is left to its extension')
  t.ok(fieldsInRange(Buffer.from([6, 0x80])), 'a message too short for its fields is left to the parser')
})

t.test('the hasher checks pieces in shared memory on worker threads, and more than one when backed up', async (t) => {
  const hasher = new PieceHasher(2)
  t.teardown(() => hasher.destroy())
  const pool = new BufferPool(256 * 1024, 16)
  const pieces = Array.from({ length: 12 }, () => {
    const buffer = pool.acquire()!
    randomBytes(buffer.length).copy(buffer)
    return buffer
  })
  const digests = pieces.map((piece) => createHash('sha1').update(piece).digest())
  const table = Buffer.concat(digests)
  // Expected hashes are views into one table, as the torrent passes them.
  const results = await Promise.all(pieces.map((piece, i) => hasher.verify(piece, table.subarray(i * 20, i * 20 + 20))))
  t.ok(results.every(Boolean), 'every piece matches its hash')
  const corrupt = pieces[5]!
  corrupt[100] = corrupt[100]! ^ 1
  t.equal(await hasher.verify(pieces[5]!, table.subarray(100, 120)), false, 'a flipped bit fails')
  t.equal(await hasher.verify(pieces[0]!, createHash('sha256').update(pieces[0]!).digest(), 'sha256'), true, 'sha256 (v2 torrents)')
  await hasher.destroy()
  await t.rejects(hasher.verify(pieces[0]!, table.subarray(0, 20)), /stopped/, 'a stopped hasher refuses work')
})
