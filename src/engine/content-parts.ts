import type { Logger } from 'winston'
import { PieceAvailability } from './availability.js'
import { BlockLayers } from './block-layers.js'
import type { PieceProgress } from './blocks.js'
import type { PeerConnections } from './connections.js'
import { TorrentContent } from './content.js'
import type { PieceHasher } from './hasher.js'
import type { MarketPort } from './market-port.js'
import type { TorrentMeta } from './metainfo.js'
import type { Peer } from './peer.js'
import { PieceRequests } from './piece-requests.js'
import type { RateLimitChain } from './rate-limiter.js'
import type { FilePriority } from './file-selection.js'
import type { EngineParts, EngineSettings } from './settings.js'
import type { TransferStats } from './transfer-stats.js'
import { Uploads } from './uploads.js'
import { WebSeeds } from './web-seed.js'

/** The parts of a torrent that exist once its metadata is known. */
export interface ContentParts {
  readonly content: TorrentContent
  readonly availability: PieceAvailability
  readonly requests: PieceRequests
  readonly uploads: Uploads
  readonly webSeeds: WebSeeds
  /** Block hashes of pieces we have, for peers repairing a v2 piece (BEP 52 hash requests for layer 0). */
  readonly blockLayers: BlockLayers
}

export interface ContentPartsInit {
  readonly meta: TorrentMeta
  readonly infoHash: string
  readonly directory: string
  readonly priorities: readonly FilePriority[] | undefined
  readonly partsPath: string
  readonly settings: EngineSettings
  readonly parts: EngineParts
  readonly hasher: PieceHasher
  readonly log: Logger
  readonly peers: PeerConnections
  readonly stats: TransferStats
  readonly downloadLimiter: RateLimitChain
  readonly uploadLimiter: RateLimitChain
  readonly market: MarketPort | undefined
  readonly destroyed: () => boolean
  readonly downloading: () => boolean
  readonly received: (piece: PieceProgress) => void
  readonly drop: (peer: Peer, reason: string) => void
}

/** Builds a torrent's content parts around one TorrentContent, wired to the torrent's peers, limits and market. */
export function contentParts (init: ContentPartsInit): ContentParts {
  const { meta, infoHash, settings, log, peers, stats, market } = init
  const content = new TorrentContent({
    meta, directory: init.directory, settings, hasher: init.hasher, log, infoHash, stopped: init.destroyed, priorities: init.priorities, partsPath: init.partsPath
  })
  const availability = new PieceAvailability(meta.pieceCount)
  const requests = new PieceRequests({
    content, availability, log, peers, stats, infoHash,
    limiter: init.downloadLimiter,
    random: init.parts.random,
    downloading: init.downloading,
    chargeFor: (peer) => market?.chargeFor(peer.address),
    received: init.received,
    drop: init.drop
  })
  const uploads = new Uploads({
    content, log, stats, infoHash,
    cacheBytes: settings.pieceCacheBytes,
    limiter: init.uploadLimiter,
    serving: (peer) => !init.destroyed() && peers.isCurrent(peer),
    sent: (peer, bytes) => market?.sent(peer.address, bytes)
  })
  const webSeeds = new WebSeeds({
    meta, requests, stats, log, infoHash,
    allowPrivate: settings.webSeedsAllowPrivate,
    timeoutMs: settings.requestTimeoutMs,
    downloading: init.downloading,
    destroyed: init.destroyed
  })
  return { content, availability, requests, uploads, webSeeds, blockLayers: new BlockLayers(content, init.hasher) }
}
