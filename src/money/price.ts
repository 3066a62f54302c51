import { UsageError } from '../util/errors.js'

/** BTT has 18 decimals on TRON and on BTTC: 1 BTT = 10^18 base units. */
export const BTT_DECIMALS = 18
export const BASE_UNITS_PER_BTT = 10n ** BigInt(BTT_DECIMALS)
/** Prices are quoted per MiB of verified data. */
export const BYTES_PER_PRICE_UNIT = 1024n * 1024n
/** The largest amount a voucher or price may carry (uint256). */
export const MAX_AMOUNT = (1n << 256n) - 1n

const PER_SIZE: Record<string, bigint> = { kib: 1024n, mib: 1024n ** 2n, gib: 1024n ** 3n, tib: 1024n ** 4n }

/** A decimal, then BTT or USD (base units when neither), then for a price `/KiB`…`/TiB`. */
const WRITTEN_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(btt|usd)?\s*(?:\/\s*([kmgt]i?b))?\s*$/i

/** How a kind of text (a price, an amount) is named in its errors, and whether it takes a `/unit`. */
interface WrittenKind {
  readonly noun: 'price' | 'amount'
  readonly examples: string
  /** The same in BTT, for the error on a fraction of a base unit. */
  readonly inBtt: string
  readonly perSize: boolean
}

const PRICE_TEXT: WrittenKind = { noun: 'price', examples: '0.5BTT/MiB, 2BTT/GiB, 0.05USD/GiB, 1000 for base units per MiB', inBtt: '0.5BTT/MiB', perSize: true }
const AMOUNT_TEXT: WrittenKind = { noun: 'amount', examples: '25BTT, 0.5BTT, 0.05USD, 1000 for base units', inBtt: '0.5BTT', perSize: false }

/** What a price or an amount says: its number in base units (10^-18 BTT or USD), the currency, a price's `/unit`. */
interface Written {
  readonly units: bigint
  readonly usd: boolean
  readonly per: string | undefined
}

/** The one reading of "number + unit" that prices and amounts share; what the unit means is the caller's. */
function parseWritten (text: string, kind: WrittenKind): Written {
  const match = WRITTEN_PATTERN.exec(text)
  if (!match || (!kind.perSize && match[3] !== undefined)) throw new UsageError(`invalid ${kind.noun} "${text}" (examples: ${kind.examples})`)
  const [, number, currency, per] = match
  if (!currency && number!.includes('.')) throw new UsageError(`invalid ${kind.noun} "${text}": base units are whole numbers (or say BTT, as in ${kind.inBtt})`)
  return { units: currency ? decimalToBaseUnits(number!, text) : BigInt(number!), usd: currency?.toLowerCase() === 'usd', per }
}

/**
 * Parses a price into base units per MiB: `0.5BTT/MiB`, `2 BTT/GiB`, `0.001BTT` (per MiB),
 * or a bare integer of base units per MiB (`500000000000000000`). A price per GiB that does not
 * divide into whole base units per MiB is refused rather than rounded: prices are exact.
 */
export function parsePrice (text: string): bigint {
  const quote = parseQuote(text)
  if (isUsd(quote)) throw new UsageError(`invalid price "${text}": this takes BTT or base units (a USD price goes in a bid or a floor)`)
  return quote
}

/**
 * Parses a price that may also be quoted in USD (`0.05USD/GiB`): a USD price is held exactly as
 * 10^-18 USD per MiB, with the same 18-decimal arithmetic as BTT.
 */
export function parseQuote (text: string): Quote {
  const { units, usd, per } = parseWritten(text, PRICE_TEXT)
  const unit = (per ?? 'mib').toLowerCase().replace(/^([kmgt])b$/, '$1ib')
  const bytes = PER_SIZE[unit]
  if (bytes === undefined) throw new UsageError(`invalid price "${text}": quote it per KiB, MiB, GiB or TiB`)
  const scaled = units * BYTES_PER_PRICE_UNIT
  if (scaled % bytes !== 0n) throw new UsageError(`price "${text}" is not a whole number of base units per MiB`)
  const perMiB = scaled / bytes
  if (perMiB > MAX_AMOUNT) throw new UsageError(`price "${text}" is too large`)
  return usd ? { usdPerMiB: perMiB } : perMiB
}

/** A price in a stable unit: USD per MiB, in 10^-18 USD (the same 18 decimals as BTT, so `0.05USD/GiB` is exact). */
export interface UsdPrice {
  readonly usdPerMiB: bigint
}

/** A bid or a floor: BTT base units per MiB, or a USD price turned into BTT at the market price when agreed. */
export type Quote = bigint | UsdPrice

export function isUsd (quote: Quote): quote is UsdPrice {
  return typeof quote !== 'bigint'
}

/** How a quote is stored and shown: base units as a decimal string, a USD price as `usd:<10^-18 USD per MiB>`. */
export function quoteText (quote: Quote): string {
  return isUsd(quote) ? `usd:${quote.usdPerMiB}` : quote.toString()
}

export function quoteFromText (text: string): Quote {
  return text.startsWith('usd:') ? { usdPerMiB: BigInt(text.slice(4)) } : BigInt(text)
}

export function formatQuote (quote: Quote): string {
  return isUsd(quote) ? `${readableDecimal(quote.usdPerMiB)} USD/MiB` : readablePrice(quote)
}

/** BTT base units per MiB for a USD price, at `usdPerBtt` (10^-18 USD per BTT); rounded down. */
export function usdToBtt (usdPerMiB: bigint, usdPerBtt: bigint): bigint {
  if (usdPerBtt <= 0n) throw new RangeError('the BTT price must be above zero')
  return usdPerMiB * BASE_UNITS_PER_BTT / usdPerBtt
}

/** Parses an amount of BTT (`25BTT`, `0.5 BTT`) or of base units (`1000`) into base units. */
export function parseAmount (text: string): bigint {
  const money = parseMoney(text)
  if (isUsdAmount(money)) throw new UsageError(`invalid amount "${text}": this takes BTT or base units (examples: 25BTT, 0.5BTT, 1000)`)
  return money
}

/** An amount in a stable unit, in 10^-18 USD (the same 18 decimals as BTT, so `0.05USD` is exact). */
export interface UsdAmount {
  readonly usd: bigint
}

/** A budget, a threshold, a cap or a deposit: BTT base units, or USD turned into BTT at the market price. */
export type Money = bigint | UsdAmount

export function isUsdAmount (money: Money): money is UsdAmount {
  return typeof money !== 'bigint'
}

/** Parses `25BTT`, `0.5 BTT`, `1000` (base units) or `0.05USD` (US dollars). */
export function parseMoney (text: string): Money {
  const { units, usd } = parseWritten(text, AMOUNT_TEXT)
  if (units > MAX_AMOUNT) throw new UsageError(`amount "${text}" is too large`)
  return usd ? { usd: units } : units
}

/** BTT base units for an amount at `usdPerBtt` (10^-18 USD per BTT); a USD amount is rounded down. */
export function moneyToBtt (money: Money, usdPerBtt: bigint): bigint {
  if (!isUsdAmount(money)) return money
  if (usdPerBtt <= 0n) throw new RangeError('the BTT price must be above zero')
  return money.usd * BASE_UNITS_PER_BTT / usdPerBtt
}

export function formatMoney (money: Money): string {
  return isUsdAmount(money) ? formatUsd(money.usd) : formatBtt(money)
}

/** `50000000000000000n` → `0.05 USD` (10^-18 USD units, exact). */
export function formatUsd (units: bigint): string {
  return `${formatDecimal(units)} USD`
}


/**
 * A decimal number as a price feed writes it (`0.00000045`, `4.5e-7`) in units of 10^-18, with no
 * floating point on the way; digits finer than 10^-18 are cut.
 */
export function parseDecimal (text: string): bigint {
  const match = /^\s*(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?\s*$/i.exec(text)
  if (!match) throw new UsageError(`invalid number "${text}"`)
  const [, whole, fraction = '', exponent = '0'] = match
  const digits = `${whole}${fraction}`
  // Where the point falls once the exponent is applied, counted from the left of `digits`.
  const point = whole!.length + Number(exponent)
  const integer = point <= 0 ? '0' : digits.slice(0, point).padEnd(point, '0')
  const decimals = point <= 0 ? `${'0'.repeat(-point)}${digits}` : digits.slice(point)
  const kept = decimals.slice(0, BTT_DECIMALS).replace(/0+$/, '')
  return decimalToBaseUnits(kept ? `${integer}.${kept}` : integer, text)
}

function decimalToBaseUnits (number: string, text: string): bigint {
  const [whole, fraction = ''] = number.split('.')
  if (fraction.length > BTT_DECIMALS) throw new UsageError(`"${text}" has more than ${BTT_DECIMALS} decimals`)
  return BigInt(whole!) * BASE_UNITS_PER_BTT + BigInt(fraction.padEnd(BTT_DECIMALS, '0'))
}

/** `1500000000000000000n` → `1.5`: units of 10^-18 as a decimal; exact, never through floating point. */
export function formatDecimal (units: bigint): string {
  const negative = units < 0n
  const magnitude = negative ? -units : units
  const whole = magnitude / BASE_UNITS_PER_BTT
  const fraction = (magnitude % BASE_UNITS_PER_BTT).toString().padStart(BTT_DECIMALS, '0').replace(/0+$/, '')
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`
}

/** `1500000000000000000n` → `1.5 BTT`, every digit (exact: for logs, errors and --json). */
export function formatBtt (baseUnits: bigint): string {
  return `${formatDecimal(baseUnits)} BTT`
}

export function formatPrice (perMiB: bigint): string {
  return `${formatBtt(perMiB)}/MiB`
}

const SIGNIFICANT_DIGITS = 6

/**
 * A decimal of 10^-18 units for people: thousands grouped, at most six significant digits (and
 * never fewer than the whole part has), rounded half up; `formatDecimal` stays the exact form.
 */
export function readableDecimal (units: bigint): string {
  const negative = units < 0n
  let magnitude = negative ? -units : units
  const digits = magnitude.toString().length
  const dropped = BigInt(Math.max(0, digits - SIGNIFICANT_DIGITS))
  if (dropped > 0n) {
    const scale = 10n ** dropped
    magnitude = (magnitude + scale / 2n) / scale * scale
  }
  const [whole, fraction] = formatDecimal(magnitude).split('.')
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${negative ? '-' : ''}${grouped}${fraction ? `.${fraction}` : ''}`
}

/** `833333333333333333333n` → `833.333 BTT`. */
export function readableBtt (baseUnits: bigint): string {
  return `${readableDecimal(baseUnits)} BTT`
}

export function readablePrice (perMiB: bigint): string {
  return `${readableBtt(perMiB)}/MiB`
}

/**
 * What `byteRateProduct` (the sum of bytes × price per MiB over everything delivered) comes to in
 * base units. Rounding happens once, on the cumulative total, so a payment never drifts from
 * verified bytes × rate by more than the one base unit that cannot be divided.
 */
export function amountFor (byteRateProduct: bigint): bigint {
  return byteRateProduct / BYTES_PER_PRICE_UNIT
}
