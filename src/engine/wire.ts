import Wire from 'bittorrent-protocol'

/** Largest message a peer may send: a 128 KiB block, or a bitfield of a 1,000,000-piece torrent, plus headers. */
export const MAX_MESSAGE_BYTES = 256 * 1024
const PIECE_MESSAGE = 7
const MIN_CARRY_BYTES = 32 * 1024

type Parser = (this: Wire, buffer: Uint8Array) => void

/** The parts of bittorrent-protocol's parser this wire drives directly. */
interface WireParser {
  _parser: Parser
  _parserSize: number
  _buffer: Uint8Array[]
  _bufferSize: number
  _cryptoSyncPattern: Uint8Array | null
  _pePending: boolean
  _encryptor: { decrypt (data: Uint8Array): Uint8Array } | null
  _onMessageLength: Parser
  _onMessage: Parser
  _processBuffer (): void
  _push (data: Uint8Array): void
  /** Set once the wire has ended: it reads nothing more. */
  _finished: boolean
  destroying: boolean
}

/**
 * The wire of bittorrent-protocol with a bounded message size and a parser for the message phase
 * that copies nothing it need not.
 *
 * bittorrent-protocol buffers a message of any announced length (up to 4 GiB) before parsing it;
 * this wire refuses lengths past MAX_MESSAGE_BYTES, so a hostile peer cannot make us hold memory.
 *
 * bittorrent-protocol also joins every socket chunk to the unparsed tail before it (a 64 KiB copy
 * per read, most of the bytes copied twice). Here whole messages are handed on as views of the chunk
 * they arrived in, and only a message split across chunks is assembled, in a buffer kept for reuse.
 * Outgoing connections read into one shared buffer (see `receive`), so a read allocates nothing.
 * Piece messages are passed as views (the torrent copies the block into its piece at once); any
 * other message in reused memory is handed on as its own copy, since its handler may keep it.
 */
export class BoundedWire extends Wire {
  oversizeMessage = false
  /**
   * Set when handling one of the peer's messages threw (an extension choking on a payload, a
   * listener on a value it did not expect): the wire is closed rather than left unread, and the
   * torrent counts it against the peer.
   */
  protocolError: string | undefined
  /** When the peer last sent us anything (ms): a silent connection is timed out. */
  lastReceivedAt = Date.now()
  /** Set before our handshake for a v2 torrent: its reserved bit says we speak BEP 52's hash messages. */
  advertiseV2 = false
  /** The peer's handshake set BEP 52's bit: it may be sent hash requests (a v1-only client might take one for a protocol error). */
  peerSpeaksV2 = false
  private carry: Buffer = Buffer.alloc(0)
  private carried = 0

  /**
   * Sends many request messages in one buffer. Unlike `request()`, it keeps no per-block state in
   * the wire (the torrent tracks what it asked for), so a block costs 17 bytes and no allocation.
   */
  /** Sends a message built whole (length prefix included): BEP 52's hash messages, which bittorrent-protocol does not know. */
  sendMessage (message: Uint8Array): void {
    ;(this as unknown as WireParser)._push(message)
  }

  override handshake (infoHash: string | Uint8Array, peerId: string | Uint8Array, extensions?: object): void {
    const parser = this as unknown as WireParser
    const push = parser._push
    // bittorrent-protocol builds the reserved bytes itself: BEP 52's bit (0x10 in the last) goes in as the handshake is pushed.
    if (this.advertiseV2) parser._push = (data) => { if (data.length === 68 && data[0] === 19) data[27]! |= 0x10; push.call(this, data) }
    try {
      super.handshake(infoHash, peerId, extensions)
    } finally {
      parser._push = push
    }
  }

  requestBlocks (blocks: Uint32Array, count: number): void {
    if (count === 0) return
    const message = Buffer.allocUnsafe(count * 17)
    for (let i = 0; i < count; i++) {
      const at = i * 17
      message.writeUInt32BE(13, at)
      message[at + 4] = 6
      message.writeUInt32BE(blocks[i * 3]!, at + 5)
      message.writeUInt32BE(blocks[i * 3 + 1]!, at + 9)
      message.writeUInt32BE(blocks[i * 3 + 2]!, at + 13)
    }
    ;(this as unknown as WireParser)._push(message)
  }

  /** Installed as the stream's `_write`: streamx calls it with each chunk piped from the socket. */
  parseChunk (data: Uint8Array, done: (err?: Error | null) => void): void {
    this.receive(data, false)
    done(null)
  }

  /**
   * Parses bytes read from the socket. `transient` data lives in a read buffer that is reused once
   * this returns (a socket's `onread` buffer): whatever must outlive the call is copied.
   */
  receive (data: Uint8Array, transient: boolean): void {
    const wire = this as unknown as WireParser
    if (this.stopsReading(wire)) return
    this.lastReceivedAt = Date.now()
    const chunk = wire._encryptor ? wire._encryptor.decrypt(data) : data
    if (!this.inMessagePhase(wire)) return this.receiveHandshake(wire, chunk, transient)
    let offset = 0
    if (this.carried > 0) {
      const take = Math.min(wire._parserSize - this.carried, chunk.length)
      this.carry.set(chunk.subarray(0, take), this.carried)
      this.carried += take
      offset = take
      if (this.carried < wire._parserSize) return
      const size = this.carried
      this.carried = 0
      this.deliver(wire, this.carry.subarray(0, size), true)
    }
    while (!this.stopsReading(wire) && this.inMessagePhase(wire) && chunk.length - offset >= wire._parserSize) {
      const size = wire._parserSize
      const message = chunk.subarray(offset, offset + size)
      offset += size
      this.deliver(wire, message, transient)
    }
    if (offset === chunk.length || this.stopsReading(wire)) return
    const rest = chunk.subarray(offset)
    if (!this.inMessagePhase(wire)) return this.receiveHandshake(wire, rest, transient)
    this.reserveCarry(wire._parserSize)
    this.carry.set(rest, 0)
    this.carried = rest.length
  }

  /** Handshakes (and the MSE exchange) go through bittorrent-protocol's own buffering. */
  private receiveHandshake (wire: WireParser, chunk: Uint8Array, transient: boolean): void {
    wire._buffer.push(transient ? Buffer.from(chunk) : chunk)
    wire._bufferSize += chunk.length
    if (wire._buffer.length > 1) wire._buffer = [Buffer.concat(wire._buffer, wire._bufferSize)]
    this.guarded(() => wire._processBuffer())
    this.adoptLeftover(wire)
  }

  /** A wire that refused a message, broke the protocol or has ended drops whatever else arrives. */
  private stopsReading (wire: WireParser): boolean {
    return this.oversizeMessage || this.protocolError !== undefined || wire._finished || wire.destroying
  }

  /**
   * Runs the handling of the peer's input. Whatever it throws ends this connection and no other:
   * left to escape, it would stop the socket being read (the peer keeps its slot, silent) and
   * reach the process's last-resort handler.
   */
  private guarded (handle: () => void): void {
    try {
      handle()
    } catch (err) {
      this.protocolError = err instanceof Error ? err.message : String(err)
      this.destroy()
    }
  }

  /**
   * Sends an extension message. A peer may turn an extension off by sending its extended handshake
   * again (BEP 10: id 0); a message for it is then dropped, where bittorrent-protocol would throw
   * into whichever timer or handler sent it.
   */
  override extended (ext: number | string, obj: Uint8Array | Record<string, unknown>): void {
    if (typeof ext === 'string' && !this.peerExtendedMapping[ext]) return
    super.extended(ext, obj)
  }

  private inMessagePhase (wire: WireParser): boolean {
    return wire._cryptoSyncPattern === null && !wire._pePending && wire._buffer.length === 0 &&
      (wire._parser === wire._onMessageLength || wire._parser === wire._onMessage)
  }

  /** Once the handshake is parsed, what is left of its last chunk moves into the carry buffer. */
  private adoptLeftover (wire: WireParser): void {
    if (wire._buffer.length === 0 || wire._cryptoSyncPattern !== null || wire._pePending) return
    if (wire._parser !== wire._onMessageLength && wire._parser !== wire._onMessage) return
    const leftover = wire._buffer[0]!
    this.reserveCarry(wire._parserSize)
    this.carry.set(leftover, 0)
    this.carried = leftover.length
    wire._buffer = []
    wire._bufferSize = 0
  }

  /** `reusedMemory`: the message's bytes are overwritten later, so only a piece message (copied at once) may keep them. */
  private deliver (wire: WireParser, message: Uint8Array, reusedMemory: boolean): void {
    const parser = wire._parser
    if (parser === wire._onMessage && !fieldsInRange(message)) {
      // bittorrent-protocol reads these fields as signed 32-bit integers: past 2^31 they turn
      // negative, slip under bounds checks and wrap counters. No valid message has one.
      this.protocolError = 'a piece index, offset or length of 2^31 or more'
      this.destroy()
      return
    }
    const copy = reusedMemory && parser === wire._onMessage && message[0] !== PIECE_MESSAGE
    this.guarded(() => parser.call(this as unknown as Wire, copy ? Buffer.from(message) : message))
  }

  private reserveCarry (size: number): void {
    if (this.carry.length >= size) return
    this.carry = Buffer.allocUnsafe(Math.max(size, MIN_CARRY_BYTES, Math.min(this.carry.length * 2, MAX_MESSAGE_BYTES + 4)))
  }
}

/** Message id → how many 32-bit fields follow it that are piece indexes, offsets or lengths. */
const UINT32_FIELDS: Readonly<Record<number, number>> = { 4: 1, 6: 3, 7: 2, 8: 3, 13: 1, 16: 3, 17: 1 }

/** Whether every piece index, offset and length in the message is below 2^31 (its top bit clear). */
export function fieldsInRange (message: Uint8Array): boolean {
  const fields = UINT32_FIELDS[message[0] ?? -1]
  if (fields === undefined) return true
  if (message.length < 1 + fields * 4) return true
  for (let field = 0; field < fields; field++) if ((message[1 + field * 4]! & 0x80) !== 0) return false
  return true
}

type Overrides = Pick<WireParser, '_onMessageLength'> & { _write: BoundedWire['parseChunk'], _onHandshakeBuffer: Parser }
const boundedProto = BoundedWire.prototype as unknown as Overrides
boundedProto._write = BoundedWire.prototype.parseChunk
const parentOnMessageLength = (Wire.prototype as unknown as WireParser)._onMessageLength
boundedProto._onMessageLength = function (this: Wire, buffer: Uint8Array): void {
  const length = ((buffer[0]! << 24) >>> 0) + (buffer[1]! << 16) + (buffer[2]! << 8) + buffer[3]!
  if (length > MAX_MESSAGE_BYTES) {
    (this as unknown as BoundedWire).oversizeMessage = true
    this.destroy()
    return
  }
  parentOnMessageLength.call(this, buffer)
}
const parentOnHandshake = (Wire.prototype as unknown as Overrides)._onHandshakeBuffer
boundedProto._onHandshakeBuffer = function (this: Wire, handshake: Uint8Array): void {
  // The handshake after its length byte: 19 bytes of protocol name, then the 8 reserved bytes.
  (this as unknown as BoundedWire).peerSpeaksV2 = ((handshake[26] ?? 0) & 0x10) !== 0
  parentOnHandshake.call(this, handshake)
}
