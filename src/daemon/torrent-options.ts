import type { AddRequest, OptionsRequest } from './api-schemas.js'
import type { SeedLimitsView } from './api-types.js'
import { updateRecord } from './torrent-records.js'
import { limitInForce, seedRatioOf, type SeedLimitChoice } from './seed-limits.js'
import type { SessionSettings } from './session-settings.js'
import type { StateStore, TorrentRecord } from './store.js'

/** What a torrent keeps beside its transfer, in memory for its views and stored in its record. */
interface Options {
  readonly labels: readonly string[]
  readonly seedRatio: SeedLimitChoice
  readonly seedIdle: SeedLimitChoice
  readonly stoppedBy: string | null
  /** Uploaded in the runs before this one. */
  readonly uploadedBefore: number
}

const NO_OPTIONS: Options = { labels: [], seedRatio: 'global', seedIdle: 'global', stoppedBy: null, uploadedBefore: 0 }

/** Transfer figures the seed limits read. */
interface Transfer {
  /** In this run. */
  readonly uploaded: number
  readonly wantedLength: number | null
  readonly length: number | null
}

/** Each torrent's labels and seed limits, and why the daemon stopped it (a seed limit reached). */
export class TorrentOptions {
  private readonly byHash = new Map<string, Options>()
  private readonly savedUploads = new Map<string, number>()

  constructor (private readonly store: StateStore, readonly session: SessionSettings) {}

  /** What an add request puts in the new torrent's record. */
  static recordFields (body: Pick<AddRequest, 'labels' | 'seedRatio' | 'seedIdle'>): Partial<TorrentRecord> {
    return {
      ...(body.labels && body.labels.length > 0 ? { labels: body.labels } : {}),
      ...(body.seedRatio !== undefined && body.seedRatio !== 'global' ? { seedRatio: body.seedRatio } : {}),
      ...(body.seedIdle !== undefined && body.seedIdle !== 'global' ? { seedIdle: body.seedIdle } : {})
    }
  }

  load (record: TorrentRecord): void {
    this.byHash.set(record.infoHash, {
      labels: record.labels ?? [],
      seedRatio: record.seedRatio ?? 'global',
      seedIdle: record.seedIdle ?? 'global',
      stoppedBy: record.stoppedBy ?? null,
      uploadedBefore: record.uploadedEver ?? 0
    })
  }

  forget (infoHash: string): void {
    this.byHash.delete(infoHash)
    this.savedUploads.delete(infoHash)
  }

  /** Stores what the torrent has uploaded in all (with the resume data): a restart does not reset its ratio. */
  async saveUploads (infoHash: string, uploadedThisRun: number): Promise<void> {
    const total = this.of(infoHash).uploadedBefore + uploadedThisRun
    if ((this.savedUploads.get(infoHash) ?? this.of(infoHash).uploadedBefore) === total) return
    await updateRecord(this.store, infoHash, { uploadedEver: total })
    this.savedUploads.set(infoHash, total)
  }

  of (infoHash: string): Options {
    return this.byHash.get(infoHash) ?? NO_OPTIONS
  }

  /** Changes what the request names; the rest stays. */
  async change (infoHash: string, body: OptionsRequest): Promise<void> {
    await this.save(infoHash, {
      ...this.of(infoHash),
      ...(body.labels !== undefined ? { labels: body.labels } : {}),
      ...(body.seedRatio !== undefined ? { seedRatio: body.seedRatio } : {}),
      ...(body.seedIdle !== undefined ? { seedIdle: body.seedIdle } : {})
    })
  }

  /** A seed limit stopped it: said in its status until it is started again. */
  async stopped (infoHash: string, reason: string): Promise<void> {
    await this.save(infoHash, { ...this.of(infoHash), stoppedBy: reason })
  }

  /**
   * The user starts it again. One stopped at its ratio would stop again at once: as Transmission
   * does, its ratio limit is then turned off (`none`), which its status shows.
   */
  async started (infoHash: string, transfer: Transfer): Promise<void> {
    const options = this.of(infoHash)
    if (options.stoppedBy === null) return
    const { ratioLimit, ratioNow } = this.limits(options, transfer)
    const reached = ratioLimit !== null && ratioNow >= ratioLimit
    await this.save(infoHash, { ...options, stoppedBy: null, ...(reached ? { seedRatio: 'none' as const } : {}) })
  }

  view (infoHash: string, transfer: Transfer): { labels: readonly string[], seedLimits: SeedLimitsView } {
    const options = this.of(infoHash)
    return { labels: options.labels, seedLimits: this.limits(options, transfer) }
  }

  private limits (options: Options, transfer: Transfer): SeedLimitsView {
    const global = this.session.seedLimits
    const uploadedEver = options.uploadedBefore + transfer.uploaded
    return {
      ratio: options.seedRatio,
      idle: options.seedIdle,
      ratioLimit: limitInForce(options.seedRatio, global.ratio),
      idleLimitSeconds: limitInForce(options.seedIdle, global.idleSeconds),
      action: global.action,
      uploadedEver,
      ratioNow: seedRatioOf(uploadedEver, transfer.wantedLength ?? transfer.length ?? 0),
      stoppedBy: options.stoppedBy
    }
  }

  private async save (infoHash: string, options: Options): Promise<void> {
    this.byHash.set(infoHash, options)
    const record = await this.store.getTorrent(infoHash)
    if (!record) return
    // Written whole: `global` and "not stopped" are the absence of the field.
    const { labels: _labels, seedRatio: _ratio, seedIdle: _idle, stoppedBy: _stopped, ...rest } = record
    await this.store.putTorrent({
      ...rest,
      ...(options.labels.length > 0 ? { labels: options.labels } : {}),
      ...(options.seedRatio !== 'global' ? { seedRatio: options.seedRatio } : {}),
      ...(options.seedIdle !== 'global' ? { seedIdle: options.seedIdle } : {}),
      ...(options.stoppedBy !== null ? { stoppedBy: options.stoppedBy } : {})
    })
  }
}
