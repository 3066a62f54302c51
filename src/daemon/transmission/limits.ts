import { isAbsolute } from 'node:path'
import { UsageError } from '../../util/errors.js'
import { parseInput, optionsRequestSchema, type OptionsRequest } from '../api-schemas.js'
import type { TorrentView } from '../api-types.js'
import type { SeedLimitChoice } from '../seed-limits.js'
import type { SessionSettings, Switched } from '../session-settings.js'

/**
 * Transmission's names for the limits (docs/rpc-spec.md): the session's speed and seed limits
 * (session-get, session-set), a torrent's labels and seed limits (torrent-get, torrent-set).
 * Transmission counts speeds in kB/s (1000 bytes) and idle time in minutes; bidtorrent in bytes
 * per second and seconds.
 */

type Arguments = Record<string, unknown>

/** Transmission's seedRatioMode and seedIdleMode: 0 the session's, 1 the torrent's own, 2 none. */
const MODES = { global: 0, own: 1, none: 2 } as const

const kB = (bytes: number): number => Math.round(bytes / 1000)
const minutes = (seconds: number): number => Math.ceil(seconds / 60)

function modeOf (choice: SeedLimitChoice): number {
  return typeof choice === 'number' ? MODES.own : MODES[choice]
}

/** The session fields for the limits, as session-get answers them. */
export function sessionLimitFields (session: SessionSettings): Arguments {
  return {
    'download-dir': session.downloadDir,
    'speed-limit-down': kB(session.downloadRate.value),
    'speed-limit-down-enabled': session.downloadRate.enabled,
    'speed-limit-up': kB(session.uploadRate.value),
    'speed-limit-up-enabled': session.uploadRate.enabled,
    'alt-speed-enabled': false,
    seedRatioLimit: session.seedRatio.value,
    seedRatioLimited: session.seedRatio.enabled,
    'idle-seeding-limit': minutes(session.seedIdleSeconds.value),
    'idle-seeding-limit-enabled': session.seedIdleSeconds.enabled
  }
}

function numberArg (args: Arguments, key: string, max: number): number | undefined {
  const value = args[key]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) throw new UsageError(`${key} must be a number from 0 to ${max}`)
  return value
}

function booleanArg (args: Arguments, key: string): boolean | undefined {
  const value = args[key]
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw new UsageError(`${key} must be true or false`)
  return value
}

function switched<T> (value: T | undefined, enabled: boolean | undefined): Partial<Switched<T>> | undefined {
  if (value === undefined && enabled === undefined) return undefined
  return { ...(value !== undefined ? { value } : {}), ...(enabled !== undefined ? { enabled } : {}) }
}

/**
 * session-set: the limits and the download folder change at once (for this run of the daemon).
 * Every value is checked before any applies. As Transmission does, keys it cannot set (read-only
 * or unknown) are ignored; alternative speed limits, which bidtorrent has not, are refused.
 */
export async function sessionSet (session: SessionSettings, args: Arguments): Promise<void> {
  const down = switched(numberArg(args, 'speed-limit-down', 1e9), booleanArg(args, 'speed-limit-down-enabled'))
  const up = switched(numberArg(args, 'speed-limit-up', 1e9), booleanArg(args, 'speed-limit-up-enabled'))
  const ratio = switched(numberArg(args, 'seedRatioLimit', 10_000), booleanArg(args, 'seedRatioLimited'))
  const idle = switched(numberArg(args, 'idle-seeding-limit', 525_600), booleanArg(args, 'idle-seeding-limit-enabled'))
  if (booleanArg(args, 'alt-speed-enabled') === true) throw new UsageError('bidtorrent has no alternative speed limits (alt-speed-enabled)')
  const directory = args['download-dir']
  if (directory !== undefined && (typeof directory !== 'string' || !isAbsolute(directory))) throw new UsageError('download-dir must be an absolute path')
  if (directory !== undefined) await session.setDownloadDir(directory)
  const bytes = (rate: Partial<Switched<number>>): Partial<Switched<number>> => ({ ...rate, ...(rate.value !== undefined ? { value: Math.round(rate.value * 1000) } : {}) })
  if (down || up) session.setRates({ ...(down ? { download: bytes(down) } : {}), ...(up ? { upload: bytes(up) } : {}) })
  if (ratio) session.seedRatio = { ...session.seedRatio, ...ratio }
  if (idle) session.seedIdleSeconds = { ...session.seedIdleSeconds, ...(idle.value !== undefined ? { value: Math.round(idle.value) * 60 } : {}), ...(idle.enabled !== undefined ? { enabled: idle.enabled } : {}) }
}

/** A torrent's labels and seed limits as torrent-get names them. */
export function torrentLimitFields (view: TorrentView): Arguments {
  const { ratio, idle, ratioLimit, idleLimitSeconds, stoppedBy } = view.seedLimits
  return {
    labels: view.labels,
    seedRatioMode: modeOf(ratio),
    seedRatioLimit: typeof ratio === 'number' ? ratio : ratioLimit ?? 0,
    seedIdleMode: modeOf(idle),
    seedIdleLimit: minutes(typeof idle === 'number' ? idle : idleLimitSeconds ?? 0),
    // Transmission's "finished": a seed limit stopped it.
    isFinished: stoppedBy !== null
  }
}

export const TORRENT_LIMIT_KEYS = ['labels', 'seedRatioLimit', 'seedRatioMode', 'seedIdleLimit', 'seedIdleMode'] as const

/** Mode 1 without a value keeps the torrent's own, or takes the limit in force now (Transmission starts a torrent's own at the session's). */
function choiceOf (mode: unknown, value: number | undefined, current: SeedLimitChoice, inForce: number | null, name: string): SeedLimitChoice | undefined {
  if (mode === undefined) return value
  if (mode === MODES.global) return 'global'
  if (mode === MODES.none) return 'none'
  if (mode !== MODES.own) throw new UsageError(`${name} must be 0 (the session's), 1 (its own) or 2 (none)`)
  if (value !== undefined) return value
  if (typeof current === 'number') return current
  if (inForce !== null) return inForce
  throw new UsageError(`${name} 1 needs its limit too`)
}

/**
 * torrent-set's labels and seed limits as a change of the torrent's options; undefined when the
 * call changes none. A limit given without its mode is the torrent's own (mode 1).
 */
export function torrentLimitChange (view: TorrentView, args: Arguments): OptionsRequest | undefined {
  if (!TORRENT_LIMIT_KEYS.some((key) => args[key] !== undefined)) return undefined
  const idleMinutes = numberArg(args, 'seedIdleLimit', 525_600)
  const ratio = choiceOf(args.seedRatioMode, numberArg(args, 'seedRatioLimit', 10_000), view.seedLimits.ratio, view.seedLimits.ratioLimit, 'seedRatioMode')
  const idle = choiceOf(args.seedIdleMode, idleMinutes === undefined ? undefined : Math.round(idleMinutes) * 60, view.seedLimits.idle, view.seedLimits.idleLimitSeconds, 'seedIdleMode')
  return parseInput(optionsRequestSchema, {
    ...(args.labels !== undefined ? { labels: args.labels } : {}),
    ...(ratio !== undefined ? { seedRatio: ratio } : {}),
    // The API takes durations as text.
    ...(idle !== undefined ? { seedIdle: typeof idle === 'number' ? `${idle}s` : idle } : {})
  })
}
