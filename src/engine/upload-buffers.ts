/**
 * Piece buffers for uploads are reused rather than left to the garbage collector: at hundreds of
 * MiB/s, a fresh 1 MiB buffer per piece read was most of a seeder's memory. A buffer may only be
 * reused once every block sliced from it has left through its socket, so blocks are counted out
 * when handed to a wire and back in when the socket write completes.
 */
const inFlight = new WeakMap<ArrayBufferLike, number>()
const retired = new WeakMap<ArrayBufferLike, UploadBufferPool>()

/** A block of `buffer` was handed to a wire: hold the buffer until `sent` is called for it. */
export function holdForSend (block: Uint8Array): void {
  inFlight.set(block.buffer, (inFlight.get(block.buffer) ?? 0) + 1)
}

/** The socket finished writing a chunk: if it was a held block, let its buffer go. */
export function sent (chunk: Uint8Array): void {
  const count = inFlight.get(chunk.buffer)
  if (count === undefined) return
  if (count > 1) {
    inFlight.set(chunk.buffer, count - 1)
    return
  }
  inFlight.delete(chunk.buffer)
  const pool = retired.get(chunk.buffer)
  if (pool) {
    retired.delete(chunk.buffer)
    pool.reclaim(Buffer.from(chunk.buffer))
  }
}

export class UploadBufferPool {
  private readonly free: Buffer[] = []

  constructor (readonly bufferSize: number, private readonly maxFree: number) {}

  take (): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferSize)
  }

  /** The cache is done with `buffer`: reuse it now, or once its last block is sent. */
  retire (buffer: Buffer): void {
    if (buffer.byteLength !== this.bufferSize || buffer.byteOffset !== 0) return
    if (inFlight.has(buffer.buffer)) retired.set(buffer.buffer, this)
    else this.reclaim(buffer)
  }

  /** Bytes in spare buffers, waiting for reuse. */
  get spareBytes (): number {
    return this.free.length * this.bufferSize
  }

  /** Lets the spare buffers go to the garbage collector; returns their bytes. */
  releaseSpare (): number {
    const bytes = this.spareBytes
    this.free.length = 0
    return bytes
  }

  reclaim (buffer: Buffer): void {
    if (this.free.length < this.maxFree && buffer.byteLength === this.bufferSize) this.free.push(buffer)
  }
}
