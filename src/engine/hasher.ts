import { availableParallelism } from 'node:os'
import { Piscina } from 'piscina'
import type { HashTask } from './hash-worker.js'

/** Piece hashing on worker threads, so the event loop only moves bytes. */
export class PieceHasher {
  private readonly pool: Piscina<HashTask, boolean>

  constructor (threads = Math.max(1, Math.min(4, availableParallelism()))) {
    this.pool = new Piscina({
      filename: new URL('./hash-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: threads,
      idleTimeout: 30_000
    })
  }

  /** `data` should live in shared memory (see BufferPool) so the worker reads it in place. */
  verify (data: Uint8Array, expected: Uint8Array, algorithm: HashTask['algorithm'] = 'sha1'): Promise<boolean> {
    // A view is cloned to the worker with its whole underlying buffer: `expected` is a view into the
    // torrent's table of all piece hashes, so it travels as a copy of its own 20 bytes.
    return this.pool.run({ data, expected: new Uint8Array(expected), algorithm })
  }

  async destroy (): Promise<void> {
    await this.pool.destroy()
  }
}

/** Reusable piece-sized buffers in shared memory: no allocation per piece, no copy to the hash worker. */
export class BufferPool {
  private readonly free: Buffer[] = []
  private outstanding = 0

  constructor (readonly bufferSize: number, readonly maxBuffers: number) {}

  get available (): boolean {
    return this.free.length > 0 || this.outstanding < this.maxBuffers
  }

  acquire (): Buffer | undefined {
    const reused = this.free.pop()
    if (reused) {
      this.outstanding++
      return reused
    }
    if (this.outstanding >= this.maxBuffers) return undefined
    this.outstanding++
    return Buffer.from(new SharedArrayBuffer(this.bufferSize))
  }

  /** Every buffer is kept for reuse: the pool's size is its peak concurrency, never more. */
  release (buffer: Buffer): void {
    this.outstanding--
    this.free.push(buffer)
  }
}
