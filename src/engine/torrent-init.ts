import type { Client as DHT } from 'bittorrent-dht'
import type { Logger } from 'winston'
import type { FilePriority } from './file-selection.js'
import type { PieceHasher } from './hasher.js'
import type { MarketHooks, MarketPort } from './market-port.js'
import type { MagnetInfo, TorrentMeta } from './metainfo.js'
import type { TokenBucket } from './rate-limiter.js'
import type { EngineParts, EngineSettings } from './settings.js'

/** What the Engine gives a torrent: what it is, where its data goes, and the engine's shared parts. */
export interface TorrentInit<Market extends MarketPort = MarketPort> {
  readonly infoHash: string
  readonly meta?: TorrentMeta
  readonly magnet?: MagnetInfo
  readonly directory: string
  readonly peerId: string
  readonly settings: EngineSettings
  readonly parts: EngineParts
  readonly logger: Logger
  readonly hasher: PieceHasher
  readonly globalUpload: TokenBucket
  readonly globalDownload: TokenBucket
  readonly listenPort: () => number
  readonly dht: DHT | undefined
  /** Opens an outgoing connection to a peer of this torrent (the Engine owns sockets). */
  readonly connect: (address: string) => void
  /** Pieces already verified in an earlier run (resume data); skips the check. */
  readonly resumeBitfield?: Uint8Array
  /**
   * Pieces known verified by a record newer than the resume data (the last voucher's, the pieces
   * verified since the last save): those missing from the resume data are checked on disk at start
   * instead of fetched, and bought, again. A crash then loses no verified piece.
   */
  readonly recheckBitfield?: Uint8Array
  /** Awaited before a piece that passed its hash check counts as verified (the daemon records it first). */
  readonly beforeVerified?: (index: number) => Promise<void>
  readonly uploadLimit?: number
  readonly downloadLimit?: number
  /** Initial seeding (BEP 16) once complete: see SuperSeeding. */
  readonly superSeed?: boolean
  /** The priorities of the user's files once the metadata is known (all normal when it gives none). */
  readonly selectFiles?: (meta: TorrentMeta) => FilePriority[] | undefined
  /**
   * Where bytes of unwanted files that wanted pieces hold are kept: outside the user's folder (the
   * daemon's state). Without it, `.<info hash>.parts` in the download directory, as libtorrent does.
   */
  readonly partsPath?: string
  /** The bandwidth market for this torrent, when the daemon has a wallet. */
  readonly market?: (hooks: MarketHooks) => Market
}
