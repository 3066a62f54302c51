import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { DigestRequest, HashReply, HashRequest, SliceDigest } from './hash-worker.js'

const WORKER_URL = new URL('./hash-worker.js', import.meta.url)
/** A second thread starts only when one has this many pieces waiting. */
const BACKLOG_PER_THREAD = 4
/** Threads past the first stop after this long without work. */
const IDLE_THREAD_MS = 30_000
/** A hash thread allocates next to nothing (pieces arrive in shared memory): a small young generation is plenty. */
const HASH_THREAD_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 }

interface PendingHash {
  resolve (reply: HashReply): void
  reject (err: Error): void
}

class HashThread {
  readonly pending = new Map<number, PendingHash>()
  idleTimer: NodeJS.Timeout | undefined

  constructor (readonly worker: Worker) {}
}

/**
 * Piece hashing on worker threads, so the event loop only moves bytes.
 *
 * Each request is one `postMessage` of a view into shared memory (a few microseconds); a task
 * queue library such as piscina cost about 0.27 ms of the main thread per piece here, more than a
 * quarter of a second per GiB.
 */
export class PieceHasher {
  private readonly threads: HashThread[] = []
  private nextId = 0
  private destroyed = false
  private readonly checked = { pieces: 0, seconds: 0 }

  constructor (readonly maxThreads = Math.max(1, Math.min(4, availableParallelism()))) {}

  /** `data` should live in shared memory (see BufferPool) so the worker reads it in place. */
  verify (data: Uint8Array, expected: Uint8Array, algorithm: HashRequest['algorithm'] = 'sha1', leaves?: number): Promise<boolean> {
    // A view is cloned with its whole underlying buffer: `expected` points into the table of all
    // piece hashes, so it travels as a copy of its own 20 bytes.
    const copy = new Uint8Array(expected)
    const started = performance.now()
    return this.send(BACKLOG_PER_THREAD, (id) => ({ id, data, expected: copy, algorithm, ...(leaves ? { leaves } : {}) })).then((reply) => {
      this.checked.pieces++
      this.checked.seconds += (performance.now() - started) / 1000
      return reply.valid
    })
  }

  /** Pieces checked so far and the time they took from request to answer (waiting for a thread included): for metrics. */
  get checks (): Readonly<{ pieces: number, seconds: number }> {
    return this.checked
  }

  /**
   * Computes digests of `data` by slices (SliceDigest), one array per entry of `digests`. Making a
   * torrent keeps every thread busy, so a thread is added as soon as one has `backlog` waiting.
   */
  async digest (data: Uint8Array, digests: readonly SliceDigest[], backlog = BACKLOG_PER_THREAD, dataLength = data.length): Promise<Uint8Array[]> {
    const reply = await this.send(backlog, (id): DigestRequest => ({ id, data, digests, dataLength }))
    if (reply.digests?.length !== digests.length) throw new Error('the hash worker sent no digests')
    return reply.digests
  }

  private send (backlog: number, request: (id: number) => HashRequest | DigestRequest): Promise<HashReply> {
    if (this.destroyed) return Promise.reject(new Error('the hasher is stopped'))
    const thread = this.pickThread(backlog)
    const id = this.nextId++
    clearTimeout(thread.idleTimer)
    return new Promise<HashReply>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject })
      thread.worker.postMessage(request(id))
    })
  }

  async destroy (): Promise<void> {
    this.destroyed = true
    const threads = this.threads.splice(0)
    for (const thread of threads) this.fail(thread, new Error('the hasher is stopped'))
    await Promise.all(threads.map((thread) => thread.worker.terminate()))
  }

  private pickThread (backlog: number): HashThread {
    let least: HashThread | undefined
    for (const thread of this.threads) if (!least || thread.pending.size < least.pending.size) least = thread
    if (least && (least.pending.size < backlog || this.threads.length >= this.maxThreads)) return least
    return this.spawn()
  }

  private spawn (): HashThread {
    // No inherited Node flags: a loader the parent runs under (a test runner's TypeScript hook, say)
    // has no business in a thread that only hashes, and once ran it out of its heap.
    const thread = new HashThread(new Worker(WORKER_URL, { resourceLimits: HASH_THREAD_LIMITS, execArgv: [] }))
    this.threads.push(thread)
    thread.worker.on('message', (reply: HashReply) => {
      const pending = thread.pending.get(reply.id)
      if (!pending) return
      thread.pending.delete(reply.id)
      if (reply.error !== undefined) pending.reject(new Error(reply.error))
      else pending.resolve(reply)
      if (thread.pending.size === 0 && this.threads[0] !== thread) {
        thread.idleTimer = setTimeout(() => this.retire(thread), IDLE_THREAD_MS)
        thread.idleTimer.unref()
      }
    })
    const lost = (err: Error): void => {
      this.forget(thread)
      this.fail(thread, err)
    }
    thread.worker.once('error', lost)
    thread.worker.once('exit', (code) => lost(new Error(`hash worker exited with code ${code}`)))
    return thread
  }

  private retire (thread: HashThread): void {
    if (thread.pending.size > 0) return
    this.forget(thread)
    void thread.worker.terminate()
  }

  private forget (thread: HashThread): void {
    clearTimeout(thread.idleTimer)
    const at = this.threads.indexOf(thread)
    if (at >= 0) this.threads.splice(at, 1)
  }

  private fail (thread: HashThread, err: Error): void {
    for (const pending of thread.pending.values()) pending.reject(err)
    thread.pending.clear()
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
