const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function bytes (n: number): string {
  let value = n
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`
}

export function rate (n: number): string {
  return `${bytes(n)}/s`
}

export function percent (fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`
}

/** Seconds left at the current rate, as h:mm:ss; ∞ when nothing is coming in. */
export function eta (left: number, perSecond: number): string {
  if (left <= 0) return '—'
  if (perSecond <= 0) return '∞'
  const seconds = Math.ceil(left / perSecond)
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
}

/** BTT base units (decimal strings, 18 decimals) as BTT. */
export function btt (units: string | null | undefined): string {
  if (units === null || units === undefined || units === '') return '—'
  const value = BigInt(units)
  const negative = value < 0n
  const abs = negative ? -value : value
  const whole = abs / 10n ** 18n
  const fraction = (abs % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '')
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`
}
