import { UsageError } from './errors.js'

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4
}

/** Parses a byte size such as `512KiB`, `1.5GB` or `4096`; SI units are decimal, IEC units binary. */
export function parseSize (text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined
  if (!match || unit === undefined) {
    throw new UsageError(`invalid size "${text}" (examples: 4096, 512KiB, 20MiB, 1.5GB)`)
  }
  const bytes = Math.round(Number(match[1]) * unit)
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`size "${text}" is too large`)
  return bytes
}

/**
 * Parses a transfer rate such as `20MiB/s`, `500KB/s` or `0` (unlimited) into bytes per second.
 * The `/s` suffix is optional so config files may say `"uploadLimit": "20MiB"`.
 */
export function parseRate (text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new UsageError(`invalid rate ${text}`)
    return Math.round(text)
  }
  const trimmed = text.trim()
  if (/^(0|unlimited|none)$/i.test(trimmed)) return 0
  const withoutPerSecond = trimmed.replace(/\/s(ec)?$/i, '').replace(/ps$/i, '')
  try {
    return parseSize(withoutPerSecond)
  } catch {
    throw new UsageError(`invalid rate "${text}" (examples: 20MiB/s, 500KB/s, 0 for unlimited)`)
  }
}

export function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`
}

export function formatRate (bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

/** Parses a duration such as `30m`, `5s`, `1.5h` or `2d` into whole seconds (the unit is required: Transmission counts minutes, we count seconds). */
export function parseDuration (text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$/i.exec(text)
  if (!match) throw new UsageError(`invalid duration "${text}" (examples: 30m, 5s, 2h, 1d)`)
  const seconds = Math.round(Number(match[1]) * DURATION_UNITS[match[2]!.toLowerCase()]!)
  if (!Number.isSafeInteger(seconds) || seconds > 365 * 86_400) throw new UsageError(`duration "${text}" is longer than a year`)
  return seconds
}

/** Seconds as the largest unit that divides them: 1800 → `30m`, 90 → `90s`. */
export function formatDuration (seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`
  }
  return `${seconds}s`
}
