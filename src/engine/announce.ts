import type { Client as DHT } from 'bittorrent-dht'
import Discovery from 'torrent-discovery'
import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import { swarmHashes, type MagnetInfo, type TorrentMeta } from './metainfo.js'
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

/** The discoveries of a torrent's swarms, stopped and told of completion together. */
export interface Announcer {
  complete (): void
  /** Announces to the trackers now, not at the next interval. */
  reannounce (): void
  destroy (): void
}

/**
 * Finds peers for a torrent through its trackers, the DHT and local discovery (none of them for a
 * private torrent but its trackers), in each of its swarms: a hybrid announces its v2 hash too, so
 * v2-only peers find it. Undefined when there is nowhere to look.
 */
export function announceTorrent (context: AnnounceContext, meta: TorrentMeta | undefined, feed: AnnounceFeed): Announcer | undefined {
  const announce = [...(meta?.announce ?? context.magnet?.announce ?? [])]
  const isPrivate = meta?.private ?? false
  if (announce.length === 0 && (!context.dht || isPrivate) && !context.settings.lsd) return undefined
  const hashes = swarmHashes(meta ?? context.magnet ?? { infoHash: context.infoHash })
  const discoveries = hashes.map((infoHash) => discover(context, infoHash, announce, isPrivate, feed))
  return {
    complete: () => { for (const discovery of discoveries) discovery.complete() },
    reannounce: () => { for (const discovery of discoveries) discovery.tracker?.update() },
    destroy: () => { for (const discovery of discoveries) discovery.destroy() }
  }
}

function discover (context: AnnounceContext, infoHash: string, announce: string[], isPrivate: boolean, feed: AnnounceFeed): Discovery {
  const { settings, logger: log } = context
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
