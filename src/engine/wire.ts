import Wire from 'bittorrent-protocol'

/** Largest message a peer may send: a 128 KiB block, or a bitfield of a 1,000,000-piece torrent, plus headers. */
export const MAX_MESSAGE_BYTES = 256 * 1024

type WireInternals = { _onMessageLength (this: Wire, buffer: Uint8Array): void }

/**
 * bittorrent-protocol buffers a message of any announced length (up to 4 GiB) before parsing it.
 * This wire refuses lengths past MAX_MESSAGE_BYTES, so a hostile peer cannot make us hold memory.
 */
export class BoundedWire extends Wire {
  oversizeMessage = false

  /**
   * Sends many request messages in one buffer. Unlike `request()`, it keeps no per-block state in
   * the wire (the torrent tracks what it asked for), so a block costs 17 bytes and no allocation.
   */
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
    ;(this as unknown as { _push (data: Uint8Array): void })._push(message)
  }
}

const proto = Wire.prototype as unknown as WireInternals
const parentOnMessageLength = proto._onMessageLength
;(BoundedWire.prototype as unknown as WireInternals)._onMessageLength = function (this: Wire, buffer: Uint8Array): void {
  const length = ((buffer[0]! << 24) >>> 0) + (buffer[1]! << 16) + (buffer[2]! << 8) + buffer[3]!
  if (length > MAX_MESSAGE_BYTES) {
    (this as BoundedWire).oversizeMessage = true
    this.destroy()
    return
  }
  parentOnMessageLength.call(this, buffer)
}
