import { formatDuration } from '../util/units.js'

/**
 * When a seeding torrent has seeded enough (Transmission's seed ratio and idle limits): a pure
 * verdict over plain numbers, which the daemon's watcher (seed-limit-watch.ts) acts on.
 */

/** A torrent's own setting for one limit: the daemon's (`global`), none, or its own value (Transmission's modes 0, 2, 1). */
export type SeedLimitChoice = 'global' | 'none' | number

/** What the daemon does to a torrent that reached a limit: stop it, or remove it (its data stays). */
export type SeedLimitAction = 'pause' | 'remove'

/** The daemon's own limits: null = none (the default: a seller may want to seed for ever). */
export interface GlobalSeedLimits {
  readonly ratio: number | null
  readonly idleSeconds: number | null
  readonly action: SeedLimitAction
}

export interface SeedingSnapshot {
  /** Every chosen piece verified and the torrent running: limits apply only then. */
  readonly seeding: boolean
  readonly uploaded: number
  /** Bytes of the chosen files: the ratio's baseline, as Transmission 4 takes it (size when done, not bytes downloaded). */
  readonly sizeWhenDone: number
  /** Seconds since the torrent last sent or received a byte, or since it started seeding. */
  readonly idleSeconds: number
}

export type SeedVerdict =
  | { readonly stop: false }
  | { readonly stop: true, readonly limit: 'ratio' | 'idle', readonly reason: string }

/** The limit in force: the torrent's own, or the daemon's; null = none. */
export function limitInForce (own: SeedLimitChoice, global: number | null): number | null {
  if (own === 'global') return global
  return own === 'none' ? null : own
}

/** Uploaded bytes over the size of the chosen files (0 before the size is known). */
export function seedRatioOf (uploaded: number, sizeWhenDone: number): number {
  return sizeWhenDone > 0 ? uploaded / sizeWhenDone : 0
}

/** Whether a torrent should stop seeding now, and why (the ratio is looked at first). */
export function seedVerdict (snapshot: SeedingSnapshot, limits: { readonly ratio: number | null, readonly idleSeconds: number | null }): SeedVerdict {
  if (!snapshot.seeding || snapshot.sizeWhenDone <= 0) return { stop: false }
  if (limits.ratio !== null && snapshot.uploaded >= limits.ratio * snapshot.sizeWhenDone) {
    return { stop: true, limit: 'ratio', reason: `seed ratio ${limits.ratio.toFixed(2)} reached` }
  }
  if (limits.idleSeconds !== null && snapshot.idleSeconds >= limits.idleSeconds) {
    return { stop: true, limit: 'idle', reason: `idle for ${formatDuration(limits.idleSeconds)} while seeding (its idle limit)` }
  }
  return { stop: false }
}
