import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import type { SeedLimitEvent, TorrentView } from './api-types.js'
import { seedVerdict } from './seed-limits.js'
import type { TorrentService } from './torrent-service.js'

/** How often seeding torrents are held against their limits: the idle limit's granularity. */
export const SEED_LIMIT_CHECK_MS = 1000

interface Activity {
  readonly uploaded: number
  readonly downloaded: number
  /** When a byte last moved, or when the torrent was first seen seeding. */
  readonly at: number
}

/**
 * Stops seeding torrents that reached their seed ratio or idle limit (seed-limits.ts decides),
 * as the daemon's setting says: pause or remove (the data stays). Each stop is an event in the
 * event log, a line in the daemon's log, and (paused) the reason in the torrent's status.
 */
export class SeedLimitWatch {
  private readonly activity = new Map<string, Activity>()
  private readonly acting = new Set<string>()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly torrents: TorrentService, private readonly log: Logger) {}

  start (): void {
    this.timer = setInterval(() => { void this.check() }, SEED_LIMIT_CHECK_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  async check (now = Date.now()): Promise<void> {
    for (const view of this.torrents.list()) {
      if (view.state !== 'seeding') {
        this.activity.delete(view.infoHash)
        continue
      }
      const idleSeconds = this.idleSeconds(view, now)
      const { seedLimits } = view
      const verdict = seedVerdict(
        { seeding: true, uploaded: seedLimits.uploadedEver, sizeWhenDone: view.wantedLength ?? view.length ?? 0, idleSeconds },
        { ratio: seedLimits.ratioLimit, idleSeconds: seedLimits.idleLimitSeconds })
      if (verdict.stop && !this.acting.has(view.infoHash)) {
        await this.act(view, { type: 'seed-limit', limit: verdict.limit, action: seedLimits.action, reason: verdict.reason })
      }
    }
  }

  private idleSeconds (view: TorrentView, now: number): number {
    const seen = this.activity.get(view.infoHash)
    if (!seen || seen.uploaded !== view.uploaded || seen.downloaded !== view.downloaded) {
      this.activity.set(view.infoHash, { uploaded: view.uploaded, downloaded: view.downloaded, at: now })
      return 0
    }
    return (now - seen.at) / 1000
  }

  private async act (view: TorrentView, event: SeedLimitEvent): Promise<void> {
    this.acting.add(view.infoHash)
    try {
      this.torrents.events.record(view.infoHash, event)
      this.log.info(event.action === 'pause' ? 'seed limit reached: torrent paused' : 'seed limit reached: torrent removed, its data kept',
        { infoHash: view.infoHash, name: view.name, reason: event.reason })
      if (event.action === 'remove') {
        await this.torrents.remove(view.infoHash, false)
      } else {
        // The reason first: whoever sees it paused sees why.
        await this.torrents.options.stopped(view.infoHash, event.reason)
        await this.torrents.pause(view.infoHash)
      }
      this.activity.delete(view.infoHash)
    } catch (err) {
      this.log.error('cannot stop a torrent at its seed limit', { infoHash: view.infoHash, error: errorMessage(err) })
    } finally {
      this.acting.delete(view.infoHash)
    }
  }
}
