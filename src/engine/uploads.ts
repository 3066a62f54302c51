import { LRUCache } from 'lru-cache'
import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import { noteReleasedMemory } from '../util/released-memory.js'
import type { TorrentContent } from './content.js'
import { pieceLengthOf } from './metainfo.js'
import type { Peer, UploadRequest } from './peer.js'
import type { RateLimitChain } from './rate-limiter.js'
import type { TransferStats } from './transfer-stats.js'
import { UploadBufferPool, holdForSend } from './upload-buffers.js'

const MAX_REQUEST_LENGTH = 128 * 1024
/** Requests we queue from one peer before refusing more (libtorrent keeps up to 500 outstanding). */
const MAX_UPLOAD_QUEUE = 2000
/** Stop feeding a peer's socket past this much unsent data; resume on 'drain'. */
const UPLOAD_BUFFER_BYTES = 1024 * 1024
/** A queue held back by a rate limit is looked at again within this long, whatever the limit said. */
const MAX_UPLOAD_WAIT_MS = 250
/**
 * Cached pieces not asked for in this long are let go: no peer is downloading then, and reading a
 * piece again comes from the OS's page cache. Shorter than the daemon's idle-collection interval,
 * so that collection finds them already released.
 */
const PIECE_CACHE_EXPIRY_MS = 20_000

export interface UploadsInit {
  readonly content: TorrentContent
  readonly cacheBytes: number
  readonly limiter: RateLimitChain
  readonly stats: TransferStats
  readonly log: Logger
  readonly infoHash: string
  /** Whether the peer is still connected to a live torrent: its queue is served only then. */
  readonly serving: (peer: Peer) => boolean
  /** A block of `bytes` left for the peer (the market meters it). */
  readonly sent: (peer: Peer, bytes: number) => void
}

/**
 * The upload side of a torrent: peers' requests, queued per peer, answered from a piece cache
 * within the rate limits and the peer's share of them, and the cache let go when unused.
 */
export class Uploads {
  private readonly cache: LRUCache<number, Buffer>
  private readonly buffers: UploadBufferPool
  private readonly loads = new Map<number, Promise<Buffer>>()
  private lastLoadAt = 0

  constructor (private readonly init: UploadsInit) {
    const { pieceLength } = init.content.meta
    const cacheBytes = Math.max(init.cacheBytes, pieceLength)
    const buffers = new UploadBufferPool(pieceLength, Math.ceil(cacheBytes / pieceLength))
    this.buffers = buffers
    this.cache = new LRUCache<number, Buffer>({
      maxSize: cacheBytes,
      sizeCalculation: (buffer) => buffer.length,
      dispose: (buffer) => buffers.retire(buffer)
    })
  }

  onRequest (peer: Peer, request: UploadRequest): void {
    const { meta } = this.init.content
    const { index, offset, length } = request
    if (index < 0 || index >= meta.pieceCount || !this.init.content.has(index) || offset < 0 || length <= 0 || length > MAX_REQUEST_LENGTH ||
        offset + length > pieceLengthOf(meta, index)) {
      request.respond(new Error('invalid request'))
      return
    }
    if (peer.superSeedPieces && !peer.superSeedPieces.includes(index)) {
      request.respond(new Error('piece not offered (super-seeding)'))
      return
    }
    if (peer.uploadQueue.length >= MAX_UPLOAD_QUEUE) {
      request.respond(new Error('too many requests'))
      return
    }
    peer.uploadQueue.push(request)
    void this.pump(peer)
  }

  /**
   * The peer no longer wants a block it asked for: drop it from the queue. Left there, it would be
   * read, metered and charged though never sent, and its answer would take the place of the peer's
   * next request for the same block (the wire matches answers by piece, offset and length), which
   * then waits for the peer's request timeout.
   */
  onCancel (peer: Peer, index: number, offset: number, length: number): void {
    const at = peer.uploadQueue.findIndex((request) => request.index === index && request.offset === offset && request.length === length)
    if (at >= 0) peer.uploadQueue.splice(at, 1)
  }

  /** Sends queued blocks while the socket has room and the rate limits allow. */
  async pump (peer: Peer): Promise<void> {
    if (peer.uploadPumping) return
    peer.uploadPumping = true
    try {
      while (peer.uploadQueue.length > 0 && this.init.serving(peer)) {
        if (peer.wire.amChoking) { peer.uploadQueue.length = 0; break }
        if (peer.wire.readableLength + peer.socket.writableLength > UPLOAD_BUFFER_BYTES) {
          peer.waitingForDrain = true
          break
        }
        const request = peer.uploadQueue[0]!
        const delay = Math.max(this.init.limiter.delayFor(request.length), peer.uploadShare.delayFor(request.length))
        if (delay > 0) {
          peer.uploadStarved = true
          // A share can be tiny now and large at the next tick (a higher bid finished): look again
          // soon rather than when today's rate would allow.
          setTimeout(() => { void this.pump(peer) }, Math.min(delay, MAX_UPLOAD_WAIT_MS)).unref()
          break
        }
        peer.uploadQueue.shift()
        let piece: Buffer
        try {
          piece = await this.load(request.index)
        } catch (err) {
          this.init.log.warn('cannot read piece for upload', { infoHash: this.init.infoHash, piece: request.index, error: errorMessage(err) })
          request.respond(err as Error)
          continue
        }
        this.send(peer, request, piece)
      }
    } finally {
      peer.uploadPumping = false
    }
  }

  // Synchronous: one await a block (the piece's load) is all the pump may cost; a second async hop
  // a block showed as seeder CPU in the bench.
  private send (peer: Peer, request: UploadRequest, piece: Buffer): void {
    this.init.limiter.consume(request.length)
    peer.uploadShare.consume(request.length)
    const block = piece.subarray(request.offset, request.offset + request.length)
    holdForSend(block)
    request.respond(null, block)
    this.init.sent(peer, request.length)
    peer.recordUpload(request.length)
    this.init.stats.sent(request.length)
  }

  private load (index: number): Promise<Buffer> {
    this.lastLoadAt = Date.now()
    const cached = this.cache.get(index)
    if (cached) return Promise.resolve(cached)
    let pending = this.loads.get(index)
    if (!pending) {
      const { meta, storage } = this.init.content
      const length = pieceLengthOf(meta, index)
      const buffer = length === meta.pieceLength ? this.buffers.take() : Buffer.allocUnsafeSlow(length)
      pending = storage.readPiece(index, buffer).then(() => {
        this.cache.set(index, buffer)
        return buffer
      }).finally(() => this.loads.delete(index))
      this.loads.set(index, pending)
    }
    return pending
  }

  /** Once a tick: nothing asked for in a while lets the cache go. */
  expire (now: number): void {
    if (now - this.lastLoadAt > PIECE_CACHE_EXPIRY_MS) this.release()
  }

  /**
   * The cached pieces and spare buffers go back (pieces are read again from the OS's page cache
   * when wanted), so a burst of uploads, or an attack, leaves no lasting footprint. libtorrent
   * expires its cache the same way.
   */
  release (): void {
    const cached = this.cache.calculatedSize
    // Checked every tick once expired: nothing held, nothing to do.
    if (cached === 0 && this.buffers.spareBytes === 0) return
    // Emptying the cache hands its buffers to the spare pool, which then lets them all go.
    this.cache.clear()
    const spare = this.buffers.releaseSpare()
    noteReleasedMemory(Math.max(cached, spare))
  }
}
