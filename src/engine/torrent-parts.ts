import type { NetworkLog } from '../util/network-log.js'
import { PeerBans } from './bans.js'
import { Choking } from './choking.js'
import { PeerConnections } from './connections.js'
import type { ContentParts } from './content-parts.js'
import { PeerDiscipline } from './discipline.js'
import { feedMarket } from './market-feed.js'
import type { MarketPort } from './market-port.js'
import type { Peer } from './peer.js'
import { PeerPieces } from './peer-pieces.js'
import { PexGossip } from './pex.js'
import { SuperSeeding } from './super-seeding.js'
import { CompletionLog } from './swarm-health.js'
import { TorrentLimits } from './rate-limiter.js'
import type { EngineSettings } from './settings.js'
import type { TorrentInit } from './torrent-init.js'
import type { TransferStats } from './transfer-stats.js'
import { PieceVerifier } from './verification.js'

/** Where a torrent is in its life: what its parts ask before they act. */
export class RunState {
  destroyed = false
  /** The user's pause, kept apart from the torrent's state so that checking data does not forget it. */
  pausedByUser = false
  /** Joined: announcing, ticking, calling peers. */
  inSwarm = false

  /** It takes peers (not paused or destroyed). */
  get open (): boolean {
    return !this.destroyed && !this.pausedByUser
  }
}

/** The parts of a torrent that exist from the start, whatever its metadata. */
export interface SwarmParts {
  readonly bans: PeerBans
  readonly peers: PeerConnections
  readonly discipline: PeerDiscipline
  readonly verifier: PieceVerifier
  readonly choking: Choking
  readonly gossip: PexGossip<Peer>
  readonly peerPieces: PeerPieces
  readonly limits: TorrentLimits
  /** Full copies made in the swarm while we watched (peers completing, and our own download). */
  readonly completions: CompletionLog
  /** Initial seeding (BEP 16), off unless asked for. */
  readonly superSeeding: SuperSeeding
}

export interface SwarmHooks {
  readonly run: RunState
  readonly market: MarketPort | undefined
  readonly data: () => ContentParts | undefined
  /** For lines a peer can cause: rate-limited per peer and in total. */
  readonly networkLog: NetworkLog
  readonly hasMetadata: () => boolean
  readonly seeding: () => boolean
  readonly drop: (peer: Peer, reason: string) => void
  readonly banned: (address: string, reason: string) => void
}

/** Builds the torrent's swarm-side parts and wires them to each other and to the torrent. */
export function swarmParts<Market extends MarketPort> (init: TorrentInit<Market>, hooks: SwarmHooks): SwarmParts {
  const { settings } = init
  const { run, data, drop } = hooks
  const bans = new PeerBans()
  const limits = new TorrentLimits(init.globalUpload, init.globalDownload, init.uploadLimit, init.downloadLimit)
  const peers = new PeerConnections({
    bans,
    ownPeerId: init.peerId,
    listenPort: init.listenPort,
    maxPeers: settings.maxPeersPerTorrent,
    maxHalfOpen: settings.maxHalfOpenConnections,
    open: () => run.open,
    calling: () => run.open && run.inSwarm,
    seeding: hooks.seeding,
    connect: init.connect,
    drop
  })
  const discipline = new PeerDiscipline({
    bans, peers, drop,
    networkLog: hooks.networkLog,
    infoHash: init.infoHash,
    banAfterHashFailures: settings.banAfterHashFailures,
    banned: hooks.banned
  })
  const verifier = new PieceVerifier({
    hasher: init.hasher,
    log: init.logger,
    infoHash: init.infoHash,
    beforeVerified: init.beforeVerified,
    wanted: (piece) => !run.destroyed && data()?.requests.isCurrent(piece) === true
  })
  const choking = new Choking({
    peers,
    settings,
    parts: init.parts,
    market: hooks.market,
    uploadLimits: limits.uploadBuckets,
    haveAny: () => (data()?.content.haveCount ?? 0) > 0,
    seeding: hooks.seeding,
    active: () => !run.destroyed && hooks.hasMetadata(),
    resumeUploads: (peer) => { void data()?.uploads.pump(peer) }
  })
  const gossip = new PexGossip<Peer>(() => peers.values(), (peer) => peers.isCurrent(peer))
  const completions = new CompletionLog()
  const superSeeding = new SuperSeeding({ peers: () => peers.values(), data, random: init.parts.random })
  superSeeding.set(init.superSeed ?? false)
  const peerPieces = new PeerPieces({ data, drop, completed: () => completions.completed(), superSeeding })
  return { bans, peers, discipline, verifier, choking, gossip, peerPieces, limits, completions, superSeeding }
}

export interface TickContext {
  readonly now: number
  /** Seconds since the last tick. */
  readonly elapsed: number
  readonly stats: TransferStats
  readonly settings: EngineSettings
  /** The market to feed: none once the torrent is complete. */
  readonly market: MarketPort | undefined
}

/** A torrent's work once a second: rates, silent peers, timed-out requests, choking, cached pieces, the market's view, more peers. */
export function tickSwarm (parts: SwarmParts, data: ContentParts | undefined, { now, elapsed, stats, settings, market }: TickContext): void {
  const { peers } = parts
  stats.tick(elapsed)
  peers.dropSilent(now)
  for (const peer of peers.values()) {
    peer.updateRates(elapsed)
    data?.requests.tickPeer(peer, now, settings.requestTimeoutMs)
  }
  parts.choking.tick(now)
  data?.uploads.expire(now)
  if (market) feedMarket(market, peers.values(), data, data?.content.bytesLeft() ?? Number.MAX_SAFE_INTEGER, stats.downloadRate)
  peers.connectMore()
}
