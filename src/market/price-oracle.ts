import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import { formatDecimal, parseDecimal, usdToBtt } from '../money/price.js'

export interface PriceOracleOptions {
  /** A fixed BTT price in USD (decimal, e.g. "0.00000045"); or null. */
  readonly usdPerBtt: string | null
  /** A URL answering JSON with the BTT price in USD at `path` (e.g. CoinGecko's simple price); or null. */
  readonly url: string | null
  /** Dot-separated path into that JSON, e.g. "bittorrent.usd". */
  readonly path: string
  readonly refreshSeconds: number
}

/**
 * The BTT price in USD, for bids and floors quoted in USD: a fixed setting, or a price source polled
 * in the background. Quotes are turned into BTT with the last price known; a quote is never turned
 * into BTT with no price at all.
 */
export class PriceOracle {
  /** 10^-18 USD per BTT. */
  private price: bigint | undefined
  /** Where the price in force came from. */
  private source: 'setting' | 'url' | undefined
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly options: PriceOracleOptions, private readonly log: Logger) {
    if (options.usdPerBtt !== null) {
      this.price = parseDecimal(options.usdPerBtt)
      this.source = 'setting'
    }
  }

  /** The price and where it comes from, for the user: `0.0000006 USD/BTT (setting usdPerBtt)`. */
  describe (): string {
    if (this.price === undefined) return 'none (set usdPerBtt or priceSourceUrl)'
    const from = this.source === 'url' ? `from ${this.options.url}` : 'setting usdPerBtt'
    return `${formatDecimal(this.price)} USD/BTT (${from})`
  }

  get configured (): boolean {
    return this.options.usdPerBtt !== null || this.options.url !== null
  }

  /** 10^-18 USD per BTT, once known. */
  get usdPerBtt (): bigint | undefined {
    return this.price
  }

  /** BTT base units per MiB for a USD price per MiB, at the current price; undefined without one. */
  toBtt (usdPerMiB: bigint): bigint | undefined {
    return this.price === undefined || this.price === 0n ? undefined : usdToBtt(usdPerMiB, this.price)
  }

  async start (): Promise<void> {
    if (this.options.url === null) return
    await this.refresh()
    this.timer = setInterval(() => { void this.refresh() }, this.options.refreshSeconds * 1000)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** Reads the price source once; on failure the last price stays (and says so). */
  async refresh (): Promise<void> {
    try {
      const response = await fetch(this.options.url!, { signal: AbortSignal.timeout(10_000) })
      // Numbers are kept as the source wrote them (4.5e-7, say), never read as floats.
      let value: unknown = JSON.parse(await response.text(), (_key, parsed: unknown, context?: { source?: string }) => (typeof parsed === 'number' ? context?.source : parsed))
      for (const key of this.options.path.split('.').filter(Boolean)) value = (value as Record<string, unknown> | undefined)?.[key]
      if (typeof value !== 'string') throw new Error(`no price at "${this.options.path}"`)
      const price = parseDecimal(value)
      if (price === 0n) throw new Error('the price source says 0')
      if (price !== this.price) this.log.info('BTT price', { usd: value })
      this.price = price
      this.source = 'url'
    } catch (err) {
      this.log.warn('cannot read the BTT price; the last one stays', { url: this.options.url, error: errorMessage(err) })
    }
  }
}
