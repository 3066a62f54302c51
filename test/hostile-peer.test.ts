import t from 'tap'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { TorrentView } from '../src/api/types.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli, waitFor } from '../testkit/process.js'

const FILES = [{ path: 'target.bin', size: 4 * 1024 * 1024 }]

function message (id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5)
  header.writeUInt32BE(payload.length + 1, 0)
  header[4] = id
  return Buffer.concat([header, payload])
}

function handshake (infoHash: string): Buffer {
  const reserved = Buffer.alloc(8)
  reserved[5] = 0x10 // extension protocol
  return Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), reserved, Buffer.from(infoHash, 'hex'), randomBytes(20)])
}

/** Connects, sends `payloads` (after the daemon's handshake when `handshakeFirst`), and reports whether the daemon hung up. */
async function probe (port: number, payloads: Buffer[], options: { infoHash?: string; waitMs?: number } = {}): Promise<'closed' | 'open'> {
  const socket: Socket = connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  const closed = new Promise<'closed'>((resolve) => socket.once('close', () => resolve('closed')))
  // Read everything the daemon sends, as a peer would: an unread socket never reports the close.
  let received = 0
  socket.on('data', (chunk: Buffer) => { received += chunk.length })
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  if (options.infoHash) {
    socket.write(handshake(options.infoHash))
    await waitFor('the daemon\'s handshake', () => (received >= 68 ? true : undefined), 5000, 20).catch(() => {})
  }
  for (const payload of payloads) {
    socket.write(payload)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const result = await Promise.race([closed, new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), options.waitMs ?? 3000))])
  socket.destroy()
  return result
}

t.test('malformed wire input is dropped with the connection; the daemon keeps serving', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'target.bin'), '--data-dir', seeder.dataDir, '--json'])
  const torrent = JSON.parse(seeded.stdout) as TorrentView
  const { infoHash } = torrent
  const port = seeder.peerPort

  // Anything that is not a plaintext handshake could be the start of an MSE key exchange, so a
  // few bytes of junk wait for the 20 s handshake timeout; more junk fails MSE's sync search at once.
  t.equal(await probe(port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), randomBytes(2048), randomBytes(600)]), 'closed', 'not BitTorrent: closed')
  t.equal(await probe(port, [handshake('00'.repeat(20))]), 'closed', 'unknown info hash: closed')
  const huge = Buffer.alloc(4)
  huge.writeUInt32BE(0x7fffffff, 0)
  t.equal(await probe(port, [huge, randomBytes(64 * 1024)], { infoHash }), 'closed', 'a 2 GiB message length: closed before buffering it')
  const pieceCount = torrent.pieceCount!
  const badBitfield = Buffer.alloc(Math.ceil(pieceCount / 8) + 4, 0xff)
  t.equal(await probe(port, [message(5, badBitfield)], { infoHash }), 'closed', 'a bitfield longer than the torrent: closed')
  const haveOutOfRange = Buffer.alloc(4)
  haveOutOfRange.writeUInt32BE(pieceCount + 10, 0)
  t.equal(await probe(port, [message(5, Buffer.alloc(Math.ceil(pieceCount / 8))), message(4, haveOutOfRange)], { infoHash }), 'closed', 'have for a piece past the end: closed')
  const badRequest = Buffer.alloc(12)
  badRequest.writeUInt32BE(pieceCount + 5, 0)
  badRequest.writeUInt32BE(0, 4)
  badRequest.writeUInt32BE(1 << 30, 8)
  t.equal(await probe(port, [message(2), message(6, badRequest), message(20, Buffer.concat([Buffer.from([0]), Buffer.from('d1:md11:ut_metadatai')]))], { infoHash, waitMs: 1500 }), 'open',
    'a nonsense request and a truncated extended handshake are ignored without harm')
  t.equal(await probe(port, [message(20, Buffer.concat([Buffer.from([1]), randomBytes(200)])), message(99, randomBytes(30))], { infoHash, waitMs: 1500 }), 'open',
    'garbage extension payloads and unknown message ids are dropped')

  // After all that, an honest peer still gets the whole torrent.
  const leecher = await startDaemon(t)
  const fetched = await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${port}`, '--data-dir', leecher.dataDir, '--wait', '--json'])
  t.equal(fetched.code, 0, fetched.stderr)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), FILES), [], 'an honest peer is served')
  t.notMatch(seeder.logs(), /uncaught exception|unhandled rejection/, 'nothing escaped to the process-level handlers')
  t.equal(seeder.process.exitCode, null, 'the seeder is still running')
})
