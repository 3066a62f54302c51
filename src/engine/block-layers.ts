import { LRUCache } from 'lru-cache'
import type { TorrentContent } from './content.js'
import type { PieceHasher } from './hasher.js'
import { pieceDataLength, pieceLengthOf } from './metainfo.js'
import { MERKLE_BLOCK } from './v2/merkle.js'

/** Pieces whose block hashes are kept once computed: a peer repairing a piece asks for one, maybe twice. */
const CACHED_PIECES = 16
/** Block layers computed at once, and waiting their turn: a request past both is rejected, so peers cannot queue disk reads and hashing without end. */
const MAX_CONCURRENT = 2
const MAX_WAITING = 16

/**
 * The block hashes (BEP 52's layer 0) of pieces we have, for peers that ask for them to find a
 * bad block in a piece that failed for them. We keep no block hashes: they are computed on demand
 * from the verified piece on disk, hashed on the hash threads.
 */
export class BlockLayers {
  private readonly cache = new LRUCache<number, Buffer>({ max: CACHED_PIECES })
  private readonly computing = new Map<number, Promise<Buffer | undefined>>()
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor (private readonly content: TorrentContent, private readonly hasher: PieceHasher) {}

  /** The SHA-256 of each of the piece's data blocks, end to end; undefined when we lack the piece, are busy, or cannot read it. */
  of (index: number): Promise<Buffer | undefined> {
    const cached = this.cache.get(index)
    if (cached) return Promise.resolve(cached)
    const running = this.computing.get(index)
    if (running) return running
    if (!this.content.has(index) || this.computing.size >= MAX_CONCURRENT + MAX_WAITING) return Promise.resolve(undefined)
    const computed = this.inTurn(() => this.compute(index)).catch(() => undefined).finally(() => this.computing.delete(index))
    this.computing.set(index, computed)
    return computed
  }

  private async inTurn<T> (work: () => Promise<T>): Promise<T> {
    if (this.active >= MAX_CONCURRENT) await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.active++
    try {
      return await work()
    } finally {
      this.active--
      this.waiting.shift()?.()
    }
  }

  private async compute (index: number): Promise<Buffer | undefined> {
    const { meta, storage } = this.content
    // Shared memory: the hash thread reads the piece in place.
    const buffer = Buffer.from(new SharedArrayBuffer(pieceLengthOf(meta, index)))
    const data = await storage.readPiece(index, buffer)
    const [hashes] = await this.hasher.digest(data.subarray(0, pieceDataLength(meta, index)), [{ algorithm: 'sha256', sliceLength: MERKLE_BLOCK }])
    if (!hashes) return undefined
    const layer = Buffer.from(hashes)
    this.cache.set(index, layer)
    return layer
  }
}
