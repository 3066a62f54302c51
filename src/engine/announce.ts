import type { Client as DHT } from 'bittorrent-dht'
import Discovery from 'torrent-discovery'
import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import type { MagnetInfo, TorrentMeta } from './metainfo.js'
import type { EngineSettings } from './settings.js'

export interface AnnounceContext {
  readonly infoHash: string
  readonly peerId: string
  readonly listenPort: () => number
  readonly dht: DHT | undefined
  readonly settings: EngineSettings
  readonly magnet?: MagnetInfo
  readonly logger: Logger
}

export interface AnnounceFeed {
  /** A TCP peer address found by a tracker, the DHT or LSD. */
  readonly peer: (address: string) => void
  readonly uploaded: () => number
  readonly downloaded: () => number
  readonly left: () => number
}

/**
 * Finds peers for a torrent through its trackers, the DHT and local discovery (none of them for a
 * private torrent but its trackers). Undefined when there is nowhere to look.
 */
export function announceTorrent (context: AnnounceContext, meta: TorrentMeta | undefined, feed: AnnounceFeed): Discovery | undefined {
  const { infoHash, settings, logger: log } = context
  const announce = [...(meta?.announce ?? context.magnet?.announce ?? [])]
  const isPrivate = meta?.private ?? false
  if (announce.length === 0 && (!context.dht || isPrivate) && !settings.lsd) return undefined
  const discovery = new Discovery({
    infoHash,
    peerId: context.peerId,
    port: context.listenPort(),
    announce,
    dht: isPrivate ? false : (context.dht ?? false),
    lsd: settings.lsd && !isPrivate,
    intervalMs: settings.announceIntervalMs,
    tracker: {
      getAnnounceOpts: () => ({ uploaded: feed.uploaded(), downloaded: feed.downloaded(), left: feed.left() })
    }
  })
  discovery.on('peer', (peer: unknown, source: string) => {
    if (typeof peer === 'string') feed.peer(peer)
    else log.debug('ignoring non-TCP peer', { source })
  })
  discovery.on('warning', (err: unknown) => log.debug('discovery warning', { infoHash, error: errorMessage(err) }))
  discovery.on('error', (err: unknown) => log.warn('discovery error', { infoHash, error: errorMessage(err) }))
  return discovery
}
