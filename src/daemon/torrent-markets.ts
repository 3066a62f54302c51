import type { Logger } from 'winston'
import type { MarketTorrent as Torrent } from './market-engine.js'
import { NO_PAYMENTS } from '../market/market-types.js'
import type { MarketConfig, MarketHooks, PaymentTotals, TorrentMarket, TorrentMarketOptions } from '../market/torrent-market.js'
import { formatMoney, isUsd, isUsdAmount, moneyToBtt, quoteFromText, quoteText, readableBtt, type Money, type Quote } from '../money/price.js'
import { UsageError } from '../util/errors.js'
import type { TorrentMarketView } from './api-types.js'
import { marketOffError } from './market-off.js'
import type { StateStore, TorrentRecord } from './store.js'
import { updateRecord } from './torrent-records.js'

/** The market settings a request may carry, parsed (api-schemas.ts). */
export interface MarketFields {
  readonly bid?: Quote | 'auto' | undefined
  readonly budget?: Money | undefined
  readonly target?: number | undefined
  readonly floor?: Quote | undefined
}

/**
 * The market side of the daemon's torrents: a request's bid, budget and floor, checked against
 * what this daemon's market can take, applied to the torrent's market and kept in its record.
 */
export class TorrentMarkets {
  constructor (
    private readonly store: StateStore,
    private readonly log: Logger,
    /** Absent when the daemon has no unlocked wallet: torrents then trade nothing. */
    private readonly config?: MarketConfig,
    /** `--bid auto` is opt-in (setting autoBid). */
    private readonly autoBidAllowed = false
  ) {}

  /** What a new torrent's record keeps of its market settings (checked first). */
  recordFields (body: MarketFields): Pick<TorrentRecord, 'bid' | 'budget' | 'floor' | 'autoTarget'> {
    this.check(body)
    return {
      ...(body.bid !== undefined ? { bid: body.bid === 'auto' ? 'auto' : quoteText(body.bid) } : {}),
      ...(body.target !== undefined ? { autoTarget: body.target } : {}),
      ...(body.budget !== undefined ? { budget: this.inBtt(body.budget).toString() } : {}),
      ...(body.floor !== undefined ? { floor: quoteText(body.floor) } : {})
    }
  }

  /** Market flags are refused plainly where the market cannot take them, never ignored. */
  check (body: MarketFields): void {
    if ((body.bid !== undefined || body.floor !== undefined || body.budget !== undefined) && !this.config) throw marketOffError()
    if (body.bid === 'auto' && !this.autoBidAllowed) throw new UsageError('auto-bid is off in this daemon (setting autoBid); give a price instead')
    this.checkUsd(body.bid)
    this.checkUsd(body.floor)
  }

  /** `add` or `seed` again on a torrent we have: its bid, budget and floor change as asked. */
  async change (torrent: Torrent, body: MarketFields): Promise<void> {
    if (body.bid === undefined && body.floor === undefined && body.budget === undefined) return
    this.check(body)
    if (body.floor !== undefined) await this.applyFloor(torrent, body.floor)
    if (body.bid !== undefined) await this.applyBid(torrent, body.bid, body.budget, body.target)
    else if (body.budget !== undefined) await this.setBudget(torrent, this.inBtt(body.budget))
  }

  /**
   * Changes a torrent's bid at once; 0 withdraws it. It spends from the torrent's budget, or from
   * the one given with it (which then replaces it); a bid with no budget at all is refused.
   */
  async applyBid (torrent: Torrent, price: Quote | 'auto', givenBudget: Money | undefined, target: number | undefined): Promise<void> {
    const market = torrent.market
    if (!market) throw marketOffError()
    const budget = givenBudget !== undefined ? this.inBtt(givenBudget) : market.options.budget
    if (price !== 0n) {
      if (budget === 0n) throw new UsageError('this torrent has no budget: give one with --budget (the daemon never spends without one)')
      const { committed } = market.payments
      if (budget <= committed) throw new UsageError(`this torrent's budget of ${readableBtt(budget)} is spent (${readableBtt(committed)} committed): give a larger --budget`)
    }
    market.setBudget(budget)
    market.setAuto(price === 'auto', target)
    // An auto bid starts at the next tick, from what the torrent sees then.
    if (price !== 'auto') market.setBid(price)
    await updateRecord(this.store, torrent.infoHash, { bid: price === 'auto' ? 'auto' : quoteText(price), budget: budget.toString(), ...(target !== undefined ? { autoTarget: target } : {}) })
  }

  /** Changes a torrent's floor at once (undefined: the daemon's default); connected bidders hear it at once. */
  async applyFloor (torrent: Torrent, floor: Quote | undefined): Promise<void> {
    if (!torrent.market) throw marketOffError()
    torrent.market.setFloor(floor)
    const record = await this.store.getTorrent(torrent.infoHash)
    if (record) {
      const { floor: _previous, ...rest } = record
      await this.store.putTorrent(floor === undefined ? rest : { ...rest, floor: quoteText(floor) })
    }
    this.log.info('floor changed', { infoHash: torrent.infoHash, floor: torrent.market.floor.toString() })
  }

  private async setBudget (torrent: Torrent, budget: bigint): Promise<void> {
    torrent.market!.setBudget(budget)
    await updateRecord(this.store, torrent.infoHash, { budget: budget.toString() })
  }

  /** A budget in BTT, or in USD at the price now (it is kept in BTT: what was authorised does not move with the price). */
  private inBtt (money: Money): bigint {
    if (!isUsdAmount(money)) return money
    const price = this.config?.prices?.usdPerBtt
    if (price === undefined) throw new UsageError('an amount in USD needs a BTT price: set usdPerBtt, or priceSourceUrl (and priceSourcePath)')
    const btt = moneyToBtt(money, price)
    this.log.info('amount in USD, in BTT', { given: formatMoney(money), btt: readableBtt(btt), usdPerBtt: this.config?.prices?.describe() })
    return btt
  }

  /** A USD quote needs a BTT price to be turned into BTT: refuse it plainly without one. */
  private checkUsd (quote: Quote | 'auto' | undefined): void {
    if (quote !== undefined && quote !== 'auto' && isUsd(quote) && !this.config?.prices?.configured) {
      throw new UsageError('a price in USD needs a BTT price: set usdPerBtt, or priceSourceUrl (and priceSourcePath)')
    }
  }

  /** What the stored vouchers and receipts say of each torrent's payments: its budget and books hold across restarts. */
  async paymentsByTorrent (): Promise<Map<string, PaymentTotals>> {
    const totals = new Map<string, PaymentTotals>()
    if (!this.config) return totals
    const add = (infoHash: string, change: Partial<PaymentTotals>): void => {
      const known = totals.get(infoHash) ?? NO_PAYMENTS
      totals.set(infoHash, { committed: known.committed + (change.committed ?? 0n), signed: known.signed + (change.signed ?? 0n), accepted: known.accepted + (change.accepted ?? 0n) })
    }
    for (const voucher of await this.store.sentVouchers.all()) add(voucher.infoHash, { committed: BigInt(voucher.committed ?? voucher.amount), signed: BigInt(voucher.amount) })
    for (const receipt of await this.store.acceptedVouchers.all()) add(receipt.infoHash, { accepted: BigInt(receipt.amount) })
    return totals
  }

  async paymentsOf (infoHash: string): Promise<PaymentTotals> {
    return (await this.paymentsByTorrent()).get(infoHash) ?? NO_PAYMENTS
  }

  /** The market a stored torrent starts with, from its record; none with the market off. */
  async marketFor (record: TorrentRecord, paymentsBefore: PaymentTotals): Promise<{ market?: (hooks: MarketHooks) => TorrentMarket }> {
    const config = this.config
    if (!config) return {}
    const auto = record.bid === 'auto'
    const options: TorrentMarketOptions = {
      bid: auto ? 0n : quoteFromText(record.bid ?? '0'),
      auto,
      budget: BigInt(record.budget ?? '0'),
      autoTarget: record.autoTarget ?? 0,
      floor: record.floor !== undefined ? quoteFromText(record.floor) : undefined
    }
    const { TorrentMarket } = await import('../market/torrent-market.js')
    return { market: (hooks) => new TorrentMarket(record.infoHash, config, options, paymentsBefore, hooks, this.log) }
  }
}

export function marketView (market: TorrentMarket): TorrentMarketView {
  const { accepted, signed, committed } = market.payments
  return {
    bid: quoteText(market.options.bid),
    budget: market.options.budget.toString(),
    floor: market.floor.toString(),
    paid: accepted.toString(),
    signedNotAccepted: (signed > accepted ? signed - accepted : 0n).toString(),
    committed: committed.toString(),
    autoBid: market.autoBidView,
    sellers: market.sellers(),
    notices: market.notices(),
    trades: market.tradeTotals(),
    vouchers: { ...market.vouchers, refused: { ...market.vouchers.refused } }
  }
}
