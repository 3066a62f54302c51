import type { UnreachablePeer } from './connections.js'
import type { ContentParts } from './content-parts.js'
import type { TorrentState } from './events.js'
import { fileProgress, type FileProgress } from './file-selection.js'
import type { MarketPort, PeerMarketView } from './market-port.js'
import { versionOf, type TorrentMeta, type TorrentVersion } from './metainfo.js'
import type { Peer } from './peer.js'
import { encryptionOf, type Encryption, type Transport } from './peer-socket.js'
import { swarmCopies, type CompletionSummary } from './swarm-health.js'
import type { SwarmParts } from './torrent-parts.js'
import type { TransferStats } from './transfer-stats.js'
import type { WebSeedStatus } from './web-seed.js'

export interface PeerInfo {
  readonly address: string
  /** Where the peer accepts connections, when known (from its extended handshake). */
  readonly listenAddress: string | null
  readonly peerId: string
  readonly client: string
  readonly direction: 'incoming' | 'outgoing'
  readonly transport: Transport
  readonly encryption: Encryption
  readonly downloadRate: number
  readonly uploadRate: number
  readonly downloaded: number
  readonly uploaded: number
  readonly amChoking: boolean
  readonly peerChoking: boolean
  readonly amInterested: boolean
  readonly peerInterested: boolean
  readonly slot: string | null
  readonly progress: number
  readonly outstandingRequests: number
  readonly market: PeerMarketView | null
}

export interface TorrentStatus {
  readonly infoHash: string
  /** A v2 or hybrid torrent's SHA-256 info hash (64 hex digits; `infoHash` is then the v1 hash, or the first 40 digits of this). */
  readonly infoHashV2: string | null
  /** BEP 3 (v1), BEP 52 (v2) or both (hybrid); null until the metadata is known. */
  readonly version: TorrentVersion | null
  readonly name: string
  readonly state: TorrentState
  readonly error: string | null
  readonly directory: string
  readonly length: number | null
  readonly pieceLength: number | null
  readonly pieceCount: number | null
  readonly verifiedPieces: number
  readonly checkedPieces: number
  readonly progress: number
  readonly downloaded: number
  /** Of `downloaded`: bytes from web seeds (BEP 19), never paid for, and from peers. */
  readonly downloadedFromWebSeeds: number
  readonly downloadedFromPeers: number
  readonly uploaded: number
  readonly wasted: number
  readonly downloadRate: number
  readonly uploadRate: number
  readonly peers: number
  readonly seeds: number
  /** Addresses known to call (from trackers, the DHT, PEX and the user), connected or not. */
  readonly knownPeers: number
  readonly uploadLimit: number
  readonly downloadLimit: number
  readonly hashFailures: number
  readonly bannedPeers: readonly string[]
  /** Addresses called and not reached, with why (the last failure; at most 20). */
  readonly unreachablePeers: readonly UnreachablePeer[]
  /** Pieces already verified on disk when the torrent started (from resume data, or found by a check). */
  readonly piecesFromResume: number
  readonly piecesDownloaded: number
  /** Blocks asked of a second peer in endgame (the first was still outstanding). */
  readonly endgameRequests: number
  /** Blocks of failed v2 pieces that their block hashes found bad, fetched again alone (not the whole piece). */
  readonly blocksRefetched: number
  /** When this torrent was added in this run of the daemon (ms since the epoch). */
  readonly startedAt: number
  /** When the last piece was verified in this run, if it was (a torrent complete on arrival has none). */
  readonly completedAt: number | null
  /** CPU time of the last rechoke (snapshots, the choker, applying its decision), in microseconds. */
  readonly lastRechokeMicros: number | null
  /** Bytes of the files chosen for download (all of them, pad files aside, unless some are skipped). */
  readonly wantedLength: number | null
  /** Bytes of the chosen files that verified pieces hold. */
  readonly wantedVerified: number
  /** The user's files (pad files not shown), numbered from 0 as `--only` and `files` take them. */
  readonly files: readonly FileProgress[]
  /** The torrent's web seeds: each one's state (why one is not used), bytes and errors. */
  readonly webSeeds: readonly WebSeedStatus[]
  /** The trackers it announces to (from the .torrent or the magnet link). */
  readonly trackers: readonly string[]
  /** How the swarm we see is doing: its copies of the torrent and the full copies made. */
  readonly swarm: SwarmHealth
  /** Initial seeding (BEP 16) is on: peers that connect are offered a piece or two at a time. */
  readonly superSeeding: boolean
}

export interface SwarmHealth extends CompletionSummary {
  /** See SwarmCopies; null before the metadata. */
  readonly distributedCopies: number | null
  readonly rarestPieceCopies: number | null
}

/** One connected peer, for the user. */
export function peerInfoOf (peer: Peer, pieceCount: number, market: MarketPort | undefined): PeerInfo {
  let pieces = 0
  if (peer.seed) pieces = pieceCount
  else for (let i = 0; i < pieceCount; i++) if (peer.wire.peerPieces.get(i)) pieces++
  return {
    address: peer.address,
    listenAddress: peer.listenAddress ?? null,
    peerId: peer.peerId,
    client: peer.client,
    direction: peer.direction,
    transport: peer.transport,
    encryption: encryptionOf(peer.wire),
    downloadRate: Math.round(peer.downloadRate),
    uploadRate: Math.round(peer.uploadRate),
    downloaded: peer.downloadedBytes,
    uploaded: peer.uploadedBytes,
    amChoking: peer.wire.amChoking,
    peerChoking: peer.wire.peerChoking,
    amInterested: peer.wire.amInterested,
    peerInterested: peer.wire.peerInterested,
    slot: peer.slotKind ?? null,
    progress: pieceCount ? pieces / pieceCount : 0,
    outstandingRequests: peer.outstanding.size,
    market: market?.view(peer.address) ?? null
  }
}

/** Where a torrent's status is read from: the torrent's own fields and its parts. */
export interface StatusSource {
  readonly torrent: Pick<TorrentStatus, 'infoHash' | 'name' | 'state' | 'error' | 'directory'>
  readonly meta: TorrentMeta | undefined
  readonly data: ContentParts | undefined
  readonly stats: TransferStats
  readonly parts: SwarmParts
  readonly piecesDownloaded: number
  readonly startedAt: number
  readonly completedAt: number | null
}

export function statusOf (source: StatusSource): TorrentStatus {
  const { meta, stats, parts } = source
  const { peers } = parts
  const content = source.data?.content
  const verifiedPieces = content?.haveCount ?? 0
  const files = meta ? fileProgress(meta, content?.priorities, (piece) => content?.has(piece) ?? false) : []
  const chosen = files.filter((file) => file.priority !== 'skip')
  const wantedLength = chosen.reduce((sum, file) => sum + file.length, 0)
  const wantedVerified = chosen.reduce((sum, file) => sum + file.verified, 0)
  const seeds = [...peers.values()].filter((peer) => peer.seed).length
  return {
    ...source.torrent,
    infoHashV2: meta?.v2?.infoHash ?? null,
    version: meta ? versionOf(meta) : null,
    length: meta?.length ?? null,
    pieceLength: meta?.pieceLength ?? null,
    pieceCount: meta?.pieceCount ?? null,
    verifiedPieces,
    checkedPieces: content?.checkedPieces ?? 0,
    progress: meta && files.length > 0 ? (wantedLength > 0 ? wantedVerified / wantedLength : 1) : 0,
    downloaded: stats.downloaded,
    downloadedFromWebSeeds: source.data?.webSeeds.downloaded ?? 0,
    downloadedFromPeers: stats.downloaded - (source.data?.webSeeds.downloaded ?? 0),
    uploaded: stats.uploaded,
    wasted: stats.wasted,
    downloadRate: Math.round(stats.downloadRate),
    uploadRate: Math.round(stats.uploadRate),
    peers: peers.size,
    seeds,
    knownPeers: peers.known,
    uploadLimit: parts.limits.uploadLimit,
    downloadLimit: parts.limits.downloadLimit,
    hashFailures: parts.verifier.hashFailures,
    bannedPeers: parts.bans.banned(),
    unreachablePeers: peers.unreachable(20),
    piecesFromResume: content?.piecesFromResume ?? 0,
    piecesDownloaded: source.piecesDownloaded,
    endgameRequests: source.data?.requests.endgameRequests ?? 0,
    blocksRefetched: source.data?.requests.blocksRefetched ?? 0,
    startedAt: source.startedAt,
    completedAt: source.completedAt,
    lastRechokeMicros: parts.choking.lastRechokeMicros,
    wantedLength: meta ? wantedLength : null,
    wantedVerified,
    files,
    webSeeds: source.data?.webSeeds.status() ?? [],
    trackers: meta?.announce ?? [],
    swarm: swarmHealthOf(source),
    superSeeding: parts.superSeeding.enabled
  }
}

function swarmHealthOf (source: StatusSource): SwarmHealth {
  const { parts, data } = source
  const seeds = [...parts.peers.values()].filter((peer) => peer.seed).length
  const copies = data ? swarmCopies(data.availability.counts, seeds, (piece) => data.content.has(piece)) : undefined
  // Our own download is a full copy made in this run; a torrent found complete at start is not.
  const ownAt = source.completedAt !== null && source.piecesDownloaded > 0 ? source.completedAt : null
  return {
    distributedCopies: copies?.distributedCopies ?? null,
    rarestPieceCopies: copies?.rarestPieceCopies ?? null,
    ...parts.completions.summary(ownAt)
  }
}
