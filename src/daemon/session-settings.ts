import type { GlobalSeedLimits, SeedLimitAction } from './seed-limits.js'

/** A limit as Transmission keeps it: a value, and apart from it whether it applies (so turning it off and on keeps the value). */
export interface Switched<T> {
  readonly value: T
  readonly enabled: boolean
}

export interface SessionStart {
  readonly seedRatioLimit: number | null
  /** Seconds. */
  readonly seedIdleLimit: number | null
  readonly seedLimitAction: SeedLimitAction
  /** Bytes per second, 0 = none. */
  readonly uploadLimit: number
  readonly downloadLimit: number
  readonly downloadDir: string
}

/** What changing a setting does beyond remembering it: the engine's rates, the torrents' default folder. */
export interface SessionEffects {
  readonly setRates: (rates: { readonly uploadLimit: number, readonly downloadLimit: number }) => void
  readonly setDownloadDir: (directory: string) => Promise<void>
}

/** Transmission's defaults for a limit that starts off: the value shown until one is set. */
const DEFAULT_RATIO = 2
const DEFAULT_IDLE_SECONDS = 30 * 60

/**
 * The daemon settings that change while it runs (Transmission's session-set): the seed limits, the
 * daemon's rate limits and its download folder. They start from the configuration and last the run:
 * a setting to keep goes in config.json.
 */
export class SessionSettings {
  seedRatio: Switched<number>
  seedIdleSeconds: Switched<number>
  seedLimitAction: SeedLimitAction
  private rates: { upload: Switched<number>, download: Switched<number> }
  private directory: string

  constructor (start: SessionStart, private readonly effects: SessionEffects) {
    this.seedRatio = { value: start.seedRatioLimit ?? DEFAULT_RATIO, enabled: start.seedRatioLimit !== null }
    this.seedIdleSeconds = { value: start.seedIdleLimit ?? DEFAULT_IDLE_SECONDS, enabled: start.seedIdleLimit !== null }
    this.seedLimitAction = start.seedLimitAction
    this.rates = { upload: { value: start.uploadLimit, enabled: start.uploadLimit > 0 }, download: { value: start.downloadLimit, enabled: start.downloadLimit > 0 } }
    this.directory = start.downloadDir
  }

  /** The limits in force for torrents that follow the daemon's. */
  get seedLimits (): GlobalSeedLimits {
    return {
      ratio: this.seedRatio.enabled ? this.seedRatio.value : null,
      idleSeconds: this.seedIdleSeconds.enabled ? this.seedIdleSeconds.value : null,
      action: this.seedLimitAction
    }
  }

  get uploadRate (): Switched<number> { return this.rates.upload }
  get downloadRate (): Switched<number> { return this.rates.download }
  get downloadDir (): string { return this.directory }

  setRates (changes: { upload?: Partial<Switched<number>>, download?: Partial<Switched<number>> }): void {
    this.rates = { upload: { ...this.rates.upload, ...changes.upload }, download: { ...this.rates.download, ...changes.download } }
    const inForce = (rate: Switched<number>): number => (rate.enabled ? rate.value : 0)
    this.effects.setRates({ uploadLimit: inForce(this.rates.upload), downloadLimit: inForce(this.rates.download) })
  }

  async setDownloadDir (directory: string): Promise<void> {
    await this.effects.setDownloadDir(directory)
    this.directory = directory
  }
}
