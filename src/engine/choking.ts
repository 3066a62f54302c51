import { shareUpload, type UploadDemand } from '../choker/bandwidth.js'
import { INITIAL_CHOKER_STATE, type ChokerState, type PeerSnapshot } from '../choker/types.js'
import { BLOCK_SIZE } from './blocks.js'
import type { PeerConnections } from './connections.js'
import type { MarketPort } from './market-port.js'
import type { Peer } from './peer.js'
import type { TokenBucket } from './rate-limiter.js'
import type { EngineParts, EngineSettings } from './settings.js'

export interface ChokingInit {
  readonly peers: PeerConnections
  readonly settings: EngineSettings
  readonly parts: EngineParts
  readonly market: MarketPort | undefined
  /** The global and the torrent's upload limits: a capped rate is shared out in the market. */
  readonly uploadLimits: readonly TokenBucket[]
  /** Whether there is anything to upload (a verified piece), and whether we are a seed. */
  readonly haveAny: () => boolean
  readonly seeding: () => boolean
  /** Whether rechoking makes sense now (metadata known, torrent alive). */
  readonly active: () => boolean
  /** A peer's share grew and it has requests waiting. */
  readonly resumeUploads: (peer: Peer) => void
}

/**
 * Who gets an upload slot: the choker (a pure function of snapshots, see src/choker/) run every
 * rechoke interval or at once when a bid changes, its decision applied to the wires, and in the
 * market a capped upload rate shared out between the slots.
 */
export class Choking {
  private state: ChokerState = INITIAL_CHOKER_STATE
  private lastRechokeAt = 0
  private soon = false
  /** CPU time of the last rechoke (snapshots, the choker, applying its decision), in microseconds. */
  lastRechokeMicros: number | null = null

  constructor (private readonly init: ChokingInit) {}

  /** A bid or a debt changed: rechoke at once (at most once a turn of the event loop), not at the next tick. */
  requestRechoke (): void {
    if (this.soon) return
    this.soon = true
    setImmediate(() => {
      this.soon = false
      if (this.init.active()) this.rechoke(Date.now())
    })
  }

  /** Once a tick: rechoke when it is due, else refresh the upload shares. */
  tick (now: number): void {
    if (now - this.lastRechokeAt >= this.init.settings.rechokeIntervalMs) this.rechoke(now)
    else this.shareUpload()
  }

  /** Between rechokes, a free slot goes to an interested peer at once rather than 10 s later. */
  fillSlots (preferred?: Peer): void {
    if (!this.init.haveAny()) return
    // In the market a free slot's kind depends on bids (a newcomer may be a bidder): the choker decides, now.
    if (this.init.market) return this.requestRechoke()
    const { slots, optimisticSlots } = this.init.settings.choker
    const peers = [...this.init.peers.values()]
    let unchoked = 0
    for (const peer of peers) if (!peer.wire.amChoking && peer.wire.peerInterested) unchoked++
    const waiting = peers.filter((peer) => peer.wire.amChoking && peer.wire.peerInterested)
    if (preferred && waiting.includes(preferred)) waiting.unshift(...waiting.splice(waiting.indexOf(preferred), 1))
    for (const peer of waiting) {
      if (unchoked >= slots + optimisticSlots) break
      peer.wire.unchoke()
      peer.slotKind = 'regular'
      unchoked++
    }
  }

  private rechoke (now: number): void {
    const { market, parts, settings, peers } = this.init
    this.lastRechokeAt = now
    // The rechoke is synchronous: its elapsed time on this thread is its CPU time (process.cpuUsage
    // would add the hash workers' and file threads' time).
    const startedAt = performance.now()
    const snapshots: PeerSnapshot[] = []
    for (const peer of peers.values()) snapshots.push(this.snapshotOf(peer, now))
    const selling = market?.selling === true && this.init.haveAny()
    const decision = parts.chokeAlgorithm(snapshots, this.state, {
      now,
      seeding: this.init.seeding(),
      settings: settings.choker,
      random: parts.random,
      ...(selling ? { market: market.auction() } : {})
    })
    this.state = decision.state
    // Rates and ranks go out before the unchokes they come with.
    market?.applyQuotes(decision)
    for (const peer of peers.values()) {
      const slot = decision.unchoke.get(peer.address)
      peer.slotKind = slot
      if (slot) peer.wire.unchoke()
      else if (!peer.wire.amChoking) {
        peer.wire.choke()
        peer.uploadQueue.length = 0
      }
    }
    this.lastRechokeMicros = Math.round((performance.now() - startedAt) * 1000)
    this.shareUpload()
  }

  private snapshotOf (peer: Peer, now: number): PeerSnapshot {
    const { market } = this.init
    return {
      id: peer.address,
      interested: peer.wire.peerInterested,
      unchoked: !peer.wire.amChoking,
      downloadRate: peer.downloadRate,
      uploadRate: peer.uploadRate,
      connectedAt: peer.connectedAt,
      snubbed: peer.isSnubbing(now, this.init.settings.snubTimeoutMs),
      ...(market ? { market: market.snapshot(peer.address, peer.slotKind) } : {})
    }
  }

  /**
   * In the market, a capped upload rate is split between the classes (src/choker/bandwidth.ts): the
   * free class (regular and optimistic slots) keeps its reserved share and paid slots get the rest,
   * and what one class leaves unused goes to the other. A peer that was held back since the last
   * tick asks for everything; one that was not asks for a little more than it took.
   */
  private shareUpload (): void {
    const { market, peers } = this.init
    const limits = this.init.uploadLimits.map((bucket) => bucket.bytesPerSecond).filter((rate) => rate > 0)
    const capacity = limits.length > 0 ? Math.min(...limits) : 0
    const sharing = market?.selling === true && capacity > 0
    const demands: UploadDemand[] = []
    for (const peer of peers.values()) {
      if (!sharing || !peer.slotKind || peer.wire.amChoking) {
        peer.uploadShare.setRate(0)
        continue
      }
      const demand = peer.uploadStarved ? capacity : peer.lastTickUpload * 1.25 + BLOCK_SIZE
      demands.push({ id: peer.address, kind: peer.slotKind, demand, rate: market.paidRate(peer.address) })
      peer.uploadStarved = false
    }
    if (!market || demands.length === 0) return
    const shares = shareUpload(capacity, demands, market.auction().reservedShare)
    for (const { id } of demands) {
      const peer = peers.get(id)!
      const before = peer.uploadShare.bytesPerSecond
      peer.uploadShare.setRate(Math.max(1, Math.round(shares.get(id) ?? 0)))
      if (peer.uploadShare.bytesPerSecond > before && peer.uploadQueue.length > 0) this.init.resumeUploads(peer)
    }
  }
}
