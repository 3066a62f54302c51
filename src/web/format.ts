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

/** An amount in base units (a decimal string) with `decimals` decimals, all of them kept. */
export function units (text: string, decimals: number): string {
  const value = BigInt(text)
  const abs = value < 0n ? -value : value
  const scale = 10n ** BigInt(decimals)
  const fraction = (abs % scale).toString().padStart(decimals, '0').replace(/0+$/, '')
  return `${value < 0n ? '-' : ''}${abs / scale}${fraction ? `.${fraction}` : ''}`
}

/** BTT base units (decimal strings; BTT has 18 decimals) as BTT. */
export function btt (text: string | null | undefined): string {
  return text === null || text === undefined || text === '' ? '—' : units(text, 18)
}
