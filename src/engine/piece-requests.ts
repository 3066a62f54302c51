// Why this file is long: the pieces in progress are one map that peers and web seeds claim from;
// splitting the web seed claims out would hand that map (and its invariants) to a second owner.
import type { Logger } from 'winston'
import { peerHas, type PieceAvailability } from './availability.js'
import { BLOCK_SIZE, blockLength, clearPiece, forgetBlocksFrom, newPieceProgress, nextUnrequested, type PieceProgress } from './blocks.js'
import type { PeerConnections } from './connections.js'
import type { TorrentContent } from './content.js'
import type { BlockCharge } from './market-port.js'
import { pieceLengthOf } from './metainfo.js'
import type { Peer } from './peer.js'
import { pickRarestPiece } from './piece-picker.js'
import type { RateLimitChain } from './rate-limiter.js'
import type { TransferStats } from './transfer-stats.js'
import { pickWebSeedRun } from './web-seed-plan.js'

/** A peer's request queue is topped up once it has drained to this fraction. */
const REFILL_FRACTION = 0.5
const MIN_QUEUE_DEPTH = 32
const MAX_QUEUE_DEPTH = 128
/** Keep about this many seconds of data requested from each peer. */
const REQUEST_QUEUE_SECONDS = 2

export interface RequestsInit {
  readonly content: TorrentContent
  readonly availability: PieceAvailability
  readonly peers: PeerConnections
  readonly limiter: RateLimitChain
  readonly stats: TransferStats
  readonly random: () => number
  readonly log: Logger
  readonly infoHash: string
  /** Whether blocks are asked for now (the torrent is downloading). */
  readonly downloading: () => boolean
  /** What a block from the peer costs now (the market's charge), if anything. */
  readonly chargeFor: (peer: Peer) => BlockCharge | undefined
  /** Every block of the piece has arrived: it is to be verified. */
  readonly received: (piece: PieceProgress) => void
  readonly drop: (peer: Peer, reason: string) => void
}

/**
 * The download side of a torrent: which blocks are asked of which peer, the pieces being
 * assembled, rarest first, and endgame. Blocks are keyed index × blocksPerPiece + block.
 */
export class PieceRequests {
  private readonly inProgress = new Map<number, PieceProgress>()
  /** Peers that sent bad data for a piece are not asked for it again while others have it. */
  private readonly failedSenders = new Map<number, Set<string>>()
  /** Pieces a web seed fetches whole: no peer is asked for their blocks, not even in endgame. */
  private readonly webSeedPieces = new Set<number>()
  private readonly blocksPerPiece: number
  /** Reused between calls: index, offset, length of each request in one batch. */
  private batch = new Uint32Array(3 * 64)
  private refillTimer: NodeJS.Timeout | undefined
  /** Blocks asked of a second peer in endgame (the first was still outstanding). */
  endgameRequests = 0
  /** Blocks fetched again alone because their piece failed and its block hashes named them bad (BEP 52). */
  blocksRefetched = 0

  constructor (private readonly init: RequestsInit) {
    this.blocksPerPiece = Math.ceil(init.content.meta.pieceLength / BLOCK_SIZE)
  }

  /** Pieces being assembled or verified. */
  pieces (): IterableIterator<PieceProgress> {
    return this.inProgress.values()
  }

  isCurrent (piece: PieceProgress): boolean {
    return this.inProgress.get(piece.index) === piece
  }

  private keyOf (index: number, block: number): number {
    return index * this.blocksPerPiece + block
  }

  /** Every missing piece is already being fetched: the last blocks may be asked of two peers. */
  get endgame (): boolean {
    return this.init.content.wantedMissing <= this.inProgress.size
  }

  fillAll (): void {
    for (const peer of this.init.peers.values()) this.fill(peer)
  }

  /**
   * Tops up the requests in flight to a peer. The queue is refilled only once it has drained by
   * half, so requests leave in batches (one buffer, one write) rather than one per block received.
   */
  fill (peer: Peer): void {
    if (!this.init.downloading()) return
    const { wire } = peer
    if (wire.peerChoking || !wire.amInterested) return
    const lowWater = this.endgame ? peer.queueDepth : Math.floor(peer.queueDepth * REFILL_FRACTION)
    if (peer.outstanding.size > lowWater) return
    const room = peer.queueDepth - peer.outstanding.size
    if (this.batch.length < room * 3) this.batch = new Uint32Array(room * 3)
    const { batch } = this
    const { limiter } = this.init
    let count = 0
    while (count < room) {
      const delay = limiter.delayFor(BLOCK_SIZE)
      if (delay > 0) {
        this.scheduleRefill(delay)
        break
      }
      const next = this.pickBlock(peer)
      if (next === undefined) break
      const { piece, block } = next
      const length = blockLength(piece, block)
      piece.requested[block]!++
      peer.outstanding.add(this.keyOf(piece.index, block))
      limiter.consume(length)
      batch[count * 3] = piece.index
      batch[count * 3 + 1] = block * BLOCK_SIZE
      batch[count * 3 + 2] = length
      count++
    }
    if (count === 0) return
    peer.lastRequestAt = Date.now()
    wire.requestBlocks(batch, count)
  }

  private scheduleRefill (delay: number): void {
    if (this.refillTimer) return
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined
      this.fillAll()
    }, delay)
    this.refillTimer.unref()
  }

  /** Next block to ask this peer for: finish its current piece, join another unfinished one, start the rarest, or double up in endgame. */
  private pickBlock (peer: Peer): { piece: PieceProgress; block: number } | undefined {
    const active = peer.activePiece === undefined ? undefined : this.inProgress.get(peer.activePiece)
    if (active) {
      const block = nextUnrequested(active)
      if (block >= 0) return { piece: active, block }
    }
    for (const piece of this.inProgress.values()) {
      if (piece.verifying || !peerHas(peer, piece.index) || this.failedSenders.get(piece.index)?.has(peer.address)) continue
      const block = nextUnrequested(piece)
      if (block >= 0) {
        peer.activePiece = piece.index
        return { piece, block }
      }
    }
    const started = this.startPiece(peer)
    if (started) {
      peer.activePiece = started.index
      return { piece: started, block: nextUnrequested(started) }
    }
    return this.endgameBlock(peer)
  }

  private startPiece (peer: Peer): PieceProgress | undefined {
    const { content } = this.init
    if (!content.pool.available) return undefined
    const index = pickRarestPiece({
      pieceCount: content.meta.pieceCount,
      availability: this.init.availability.counts,
      random: this.init.random,
      rank: (i) => content.rank(i),
      wanted: (i) => !content.has(i) && !this.inProgress.has(i) && peerHas(peer, i) && !content.pads.padOnly.has(i) &&
        !(this.failedSenders.get(i)?.has(peer.address) && this.someoneElseHas(peer, i))
    })
    if (index < 0) return undefined
    const piece = newPieceProgress(index, pieceLengthOf(content.meta, index), content.pool.acquire()!)
    content.pads.fill(piece)
    this.inProgress.set(index, piece)
    return piece
  }

  private someoneElseHas (peer: Peer, index: number): boolean {
    for (const other of this.init.peers.values()) if (other !== peer && peerHas(other, index)) return true
    return false
  }

  /** Endgame: every missing piece is already on the way; ask a second peer for blocks still outstanding. */
  private endgameBlock (peer: Peer): { piece: PieceProgress; block: number } | undefined {
    if (!this.endgame) return undefined
    for (const piece of this.inProgress.values()) {
      if (piece.verifying || !peerHas(peer, piece.index) || this.webSeedPieces.has(piece.index)) continue
      for (let block = 0; block < piece.blockCount; block++) {
        if (piece.received[block] || piece.requested[block]! >= 2) continue
        if (peer.outstanding.has(this.keyOf(piece.index, block))) continue
        this.endgameRequests++
        return { piece, block }
      }
    }
    return undefined
  }

  /** A block arrived: stored if it was asked for and fits; a piece whose blocks are all in goes to be verified. */
  onBlock (peer: Peer, index: number, offset: number, data: Uint8Array): void {
    const { stats } = this.init
    const block = offset / BLOCK_SIZE
    if (offset % BLOCK_SIZE !== 0 || !peer.outstanding.delete(this.keyOf(index, block))) {
      stats.waste(data.length)
      return
    }
    peer.recordDownload(data.length)
    stats.received(data.length)
    const piece = this.inProgress.get(index)
    if (!piece) { stats.waste(data.length); return }
    piece.requested[block]!--
    const expectedLength = blockLength(piece, block)
    if (data.length !== expectedLength) {
      this.releaseBlockState(piece, block)
      this.init.drop(peer, `block of ${data.length} bytes, expected ${expectedLength}`)
      return
    }
    if (piece.received[block]) {
      stats.waste(data.length)
    } else {
      piece.buffer.set(data, offset)
      piece.received[block] = 1
      piece.senders[block] = peer.address
      piece.charges[block] = this.init.chargeFor(peer)
      piece.receivedCount++
      if (piece.requested[block]! > 0) this.cancelDuplicates(peer, piece, block)
      if (piece.receivedCount === piece.blockCount) {
        piece.verifying = true
        this.init.received(piece)
      }
    }
    this.fill(peer)
  }

  private cancelDuplicates (receivedFrom: Peer, piece: PieceProgress, block: number): void {
    const key = this.keyOf(piece.index, block)
    for (const peer of this.init.peers.values()) {
      if (peer === receivedFrom || !peer.outstanding.delete(key)) continue
      piece.requested[block]!--
      peer.wire.cancel(piece.index, block * BLOCK_SIZE, blockLength(piece, block))
    }
  }

  /**
   * Up to `max` consecutive pieces nobody is fetching, for a web seed to fetch whole (every block
   * marked requested, so peers leave them alone), the pieces no peer has first. Empty while not
   * downloading, when nothing is free (endgame is the peers'), or when the buffers are all taken.
   */
  claimForWebSeed (max: number): PieceProgress[] {
    const { content, availability } = this.init
    // The download limit holds for web seeds too: none is asked while the limit says wait.
    if (!this.init.downloading() || !content.pool.available || this.init.limiter.delayFor(BLOCK_SIZE) > 0) return []
    let seeds = 0
    for (const peer of this.init.peers.values()) if (peer.seed) seeds++
    const run = pickWebSeedRun({
      pieceCount: content.meta.pieceCount,
      maxPieces: max,
      free: (i) => !content.has(i) && !this.inProgress.has(i) && !content.pads.padOnly.has(i) && content.wants(i),
      rank: (i) => content.rank(i),
      copies: (i) => availability.counts[i]! + seeds
    })
    const pieces: PieceProgress[] = []
    for (let index = run?.first ?? 0; run && index < run.first + run.count; index++) {
      const buffer = content.pool.acquire()
      if (!buffer) break
      const piece = newPieceProgress(index, pieceLengthOf(content.meta, index), buffer)
      piece.requested.fill(1)
      this.inProgress.set(index, piece)
      this.webSeedPieces.add(index)
      pieces.push(piece)
    }
    return pieces
  }

  /** A web seed filled the piece's buffer: it goes to be verified, the web seed its only sender (and nobody to pay). */
  webSeedDelivered (piece: PieceProgress, sender: string): void {
    if (!this.isCurrent(piece)) return
    piece.received.fill(1)
    piece.requested.fill(0)
    piece.senders.fill(sender)
    piece.charges.fill(undefined)
    piece.receivedCount = piece.blockCount
    piece.verifying = true
    this.init.limiter.consume(piece.length)
    this.init.received(piece)
  }

  /** A web seed could not fetch the piece: it is free again, for peers or another web seed. */
  webSeedFailed (piece: PieceProgress): void {
    if (!this.isCurrent(piece) || piece.verifying) return
    this.drop(piece)
    this.fillAll()
  }

  private drop (piece: PieceProgress): void {
    this.inProgress.delete(piece.index)
    this.webSeedPieces.delete(piece.index)
    this.init.content.pool.release(piece.buffer)
  }

  /** The piece verified and is written: it leaves the pieces in progress and its buffer goes back. */
  finish (piece: PieceProgress): void {
    this.drop(piece)
    this.failedSenders.delete(piece.index)
    for (const peer of this.init.peers.values()) if (peer.activePiece === piece.index) peer.activePiece = undefined
  }

  /** The piece failed its hash check: its senders are not asked for it again while others have it. */
  failedFrom (piece: PieceProgress, senders: readonly string[]): void {
    const failed = this.failedSenders.get(piece.index) ?? new Set<string>()
    this.failedSenders.set(piece.index, failed)
    for (const address of senders) failed.add(address)
  }

  /** Forgets every block of a piece, so it is fetched again from scratch (a web seed's piece is let go whole). */
  restart (piece: PieceProgress): void {
    if (this.webSeedPieces.has(piece.index) && this.isCurrent(piece)) {
      this.drop(piece)
      return this.fillAll()
    }
    clearPiece(piece)
    this.init.content.pads.fill(piece)
    // Blocks still requested from anyone are no longer tracked for this attempt.
    for (const peer of this.init.peers.values()) {
      for (let block = 0; block < piece.blockCount; block++) peer.outstanding.delete(this.keyOf(piece.index, block))
      if (peer.activePiece === piece.index) peer.activePiece = undefined
    }
    this.fillAll()
  }

  /** Whether a web seed fetches the piece whole (its blocks are nobody's to fetch again alone). */
  fromWebSeed (piece: PieceProgress): boolean {
    return this.webSeedPieces.has(piece.index)
  }

  /** Forgets only the bad blocks of a failed piece: they are fetched again, the good ones kept (and paid for once it verifies). */
  refetchBlocks (piece: PieceProgress, blocks: readonly number[]): void {
    for (const block of blocks) {
      if (!piece.received[block]) continue
      piece.received[block] = 0
      piece.senders[block] = undefined
      piece.charges[block] = undefined
      piece.receivedCount--
      if (block < piece.cursor) piece.cursor = block
      this.blocksRefetched++
    }
    piece.verifying = false
    // A peer whose current piece this is would otherwise take its blocks again without the check of failed senders.
    for (const peer of this.init.peers.values()) if (peer.activePiece === piece.index) peer.activePiece = undefined
    this.fillAll()
  }

  /** A banned peer's blocks in unfinished pieces would only fail those pieces later: drop them now. */
  forgetBlocksFrom (address: string): void {
    for (const piece of this.inProgress.values()) if (!piece.verifying) forgetBlocksFrom(piece, address)
  }

  /** Everything asked of the peer is given up (it choked us, left, or timed out). */
  release (peer: Peer): void {
    for (const key of peer.outstanding) {
      const index = Math.floor(key / this.blocksPerPiece)
      const piece = this.inProgress.get(index)
      if (piece) this.releaseBlockState(piece, key - index * this.blocksPerPiece)
    }
    peer.outstanding.clear()
    peer.activePiece = undefined
  }

  /** The peer refused one block. */
  releaseBlock (peer: Peer, index: number, offset: number): void {
    if (!peer.outstanding.delete(this.keyOf(index, offset / BLOCK_SIZE))) return
    const piece = this.inProgress.get(index)
    if (piece) this.releaseBlockState(piece, offset / BLOCK_SIZE)
  }

  private releaseBlockState (piece: PieceProgress, block: number): void {
    if (piece.requested[block]! > 0) piece.requested[block]!--
    if (block < piece.cursor) piece.cursor = block
  }

  /** Once a tick: the queue depth follows the peer's rate, and requests it sat on too long are cancelled. */
  tickPeer (peer: Peer, now: number, requestTimeoutMs: number): void {
    peer.queueDepth = Math.max(MIN_QUEUE_DEPTH, Math.min(MAX_QUEUE_DEPTH, Math.ceil(peer.downloadRate * REQUEST_QUEUE_SECONDS / BLOCK_SIZE)))
    if (peer.outstanding.size > 0 && now - Math.max(peer.lastBlockAt, peer.lastRequestAt) > requestTimeoutMs) {
      this.init.log.debug('requests timed out', { infoHash: this.init.infoHash, peer: peer.address, outstanding: peer.outstanding.size })
      for (const key of peer.outstanding) {
        const index = Math.floor(key / this.blocksPerPiece)
        const block = key - index * this.blocksPerPiece
        const piece = this.inProgress.get(index)
        if (piece) peer.wire.cancel(index, block * BLOCK_SIZE, blockLength(piece, block))
      }
      this.release(peer)
    }
    this.fill(peer)
  }

  /** Stops asking (the torrent leaves the swarm): pieces not being verified are let go. */
  stop (): void {
    clearTimeout(this.refillTimer)
    this.refillTimer = undefined
    for (const piece of [...this.inProgress.values()]) if (!piece.verifying) this.drop(piece)
  }
}
