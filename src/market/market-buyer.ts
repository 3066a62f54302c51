import { totalOwed, unpaid } from '../accounting/ledger.js'
import { biddingState, holdsPaidSlot, notBiddingState, sellerBidView } from './bid-state.js'
import { withinBudget } from './bidding.js'
import { AutoBidder } from './buyer-auto-bid.js'
import { BuyerPayments } from './buyer-payments.js'
import { ChannelFunding } from './channel-funding.js'
import type { BidResponseMessage, ReceiptMessage, RejectMessage } from './codec.js'
import type { Connection, Counterparty, MarketContext, StoppedState } from './counterparties.js'
import type { AutoBidView, Contribution, PaymentTotals, SellerBidView, TorrentMarketOptions, TorrentObservation } from './market-types.js'
import { refusesForGood } from './payment-rules.js'
import { BYTES_PER_PRICE_UNIT, formatBtt, isUsd, type Quote } from '../money/price.js'

const creditCapReached = (limit: bigint): string => `the seller's credit cap of ${formatBtt(limit)} on this channel is reached`

/**
 * The buying side of one torrent's market: it bids to sellers (funding the channel first on a
 * chain, and topping it up before it runs dry: channel-funding.ts), learns what each block costs
 * from their quotes, and stops bidding before the budget or a seller's limit runs short. The
 * payments (buyer-payments.ts) pay for exactly the verified bytes with cumulative vouchers, never
 * past the budget or past what a seller said it accepts, and count as paid only what the seller
 * confirmed holding; `--bid auto` sets the bid through buyer-auto-bid.ts.
 */
export class MarketBuyer {
  private readonly paying: BuyerPayments
  private readonly funding: ChannelFunding
  private readonly autoBidder: AutoBidder

  constructor (
    private readonly market: MarketContext,
    private readonly options: TorrentMarketOptions,
    /** What the stored vouchers and receipts say of earlier runs: the budget and the books hold across restarts. */
    before: PaymentTotals,
    private readonly connections: () => Iterable<Connection>
  ) {
    this.paying = new BuyerPayments(market, options, before, {
      budgetSpent: () => this.stopBidding('the budget is spent'),
      limitReached: (counterparty, limit) => this.limitReached(counterparty, limit),
      limitConfirmed: (counterparty, limit) => this.limitConfirmed(counterparty, limit)
    })
    const budgetLeft = (): bigint => this.paying.budgetLeft
    this.funding = new ChannelFunding(market, budgetLeft)
    this.autoBidder = new AutoBidder(market, options, connections, budgetLeft, (bid) => this.setBid(bid))
  }

  /** The torrent's payments: committed (what the budget counts), signed, and accepted (paid). */
  get payments (): PaymentTotals {
    return this.paying.totals
  }

  /** Whether this torrent bids at all (in BTT or in USD). */
  private get bidding (): boolean {
    const bid = this.options.bid
    return (isUsd(bid) ? bid.usdPerMiB : bid) > 0n
  }

  /**
   * The bid to one seller, in BTT: the BTT bid, or the USD bid turned into BTT when first bid on
   * that channel and fixed there from then on.
   */
  private bidFor (counterparty: Counterparty | undefined): bigint {
    const bid = this.options.bid
    if (!isUsd(bid)) return bid
    if (!counterparty) return 0n
    counterparty.agreedBid ??= this.market.config.prices?.toBtt(bid.usdPerMiB)
    return counterparty.agreedBid ?? 0n
  }

  /** A new connection to this counterparty: it gets our latest voucher again (see BuyerPayments.resendLatest). */
  connected (connection: Connection, counterparty: Counterparty): void {
    this.paying.resendLatest(connection, counterparty)
  }

  /** The seller's quote: blocks from it cost its rate while we hold one of its paid slots. */
  quoted (connection: Connection, response: BidResponseMessage): void {
    connection.response = response
    const rate = holdsPaidSlot(response) ? response.rate : 0n
    connection.charge = rate > 0n && connection.remote ? { payee: connection.remote.wallet, rate } : undefined
  }

  /** The seller's receipt: see BuyerPayments.receipt. */
  receipt (connection: Connection, receipt: ReceiptMessage): void {
    this.paying.receipt(connection, receipt)
  }

  /** A piece passed its hash check: its senders are owed for their bytes, and paid (BuyerPayments.verified). */
  verified (contributions: readonly Contribution[]): void {
    this.paying.verified(contributions)
  }

  /** The seller refused a bid or a voucher: handled, and said, not only logged. */
  refused (connection: Connection, message: RejectMessage): void {
    const counterparty = connection.counterparty
    if (!counterparty) return
    const reason = `${message.code}: ${message.reason}`
    if (message.about === 'bid') {
      if (message.code === 'over-funds' && this.funding.locksFunds) {
        // The seller read no deposit beyond what is paid: top the channel up, then bid again.
        counterparty.channelFunds = undefined
        return this.funding.fund(counterparty, () => this.maybeBid(connection, true))
      }
      if (message.code === 'over-funds') return this.stopSeller(counterparty, 'limit-reached', `the seller's credit cap is used up (${message.reason})`)
      connection.bidRefusal = { code: message.code, reason: message.reason }
      this.market.notify('a seller refused the bid', { seller: counterparty.wallet, reason })
      return
    }
    if (message.about !== 'voucher') return
    counterparty.refusals++
    if (refusesForGood(message.code, counterparty.refusals)) {
      this.stopSeller(counterparty, 'refused', `it refuses our vouchers (${reason})`)
      return
    }
    // Sign again from the voucher it holds, which its receipt (right behind the refusal) names.
    counterparty.resyncOnReceipt = true
    this.market.log.info('a seller refused a voucher; paying again from what it holds', { infoHash: this.market.infoHash, seller: counterparty.wallet, reason })
  }

  /** Auto-bid, about once a second with what the torrent sees (buyer-auto-bid.ts). */
  autoBid (observed: TorrentObservation): void {
    this.autoBidder.observe(observed)
  }

  /** What auto-bid is doing and why; null without `--bid auto`. */
  get autoBidView (): AutoBidView | null {
    return this.autoBidder.view
  }

  /**
   * Runs about once a second with what the blocks in flight will cost, per seller (Σ bytes × rate).
   * It withdraws the bids before the budget runs short (docs/protocol.md §7), stops bidding to a
   * seller before what we owe it passes what it accepts, and on a chain tops a channel up while
   * half a deposit is still left, so that a paid slot is never lost for want of a deposit.
   */
  guard (inFlight: ReadonlyMap<string, bigint>): void {
    if (!this.bidding) return
    const { channelDeposit } = this.market.config
    let owed = 0n
    let flying = 0n
    for (const counterparty of this.market.book.values()) {
      owed += unpaid(counterparty.ledger)
      const flight = inFlight.get(counterparty.wallet) ?? 0n
      flying += flight
      const exposure = totalOwed(counterparty.ledger) + (flight + BYTES_PER_PRICE_UNIT - 1n) / BYTES_PER_PRICE_UNIT
      if (this.funding.locksFunds) {
        const funds = counterparty.channelFunds
        if (funds !== undefined && flight > 0n && funds - exposure < channelDeposit / 2n && this.paying.budgetLeft > 0n) this.topUp(counterparty)
      } else if (counterparty.sellerLimit !== undefined && exposure >= counterparty.sellerLimit && !counterparty.stopped) {
        this.stopSeller(counterparty, 'limit-reached', creditCapReached(counterparty.sellerLimit))
      }
    }
    if (!withinBudget(this.options.budget, this.paying.totals.committed + owed, flying)) this.stopBidding('the budget left cannot cover the data in flight')
  }

  /** A changed bid (in BTT, or in USD): sent to every seller at once; a USD bid is agreed anew per channel. */
  setBid (price: Quote): void {
    this.options.bid = price
    for (const counterparty of this.market.book.values()) {
      counterparty.agreedBid = undefined
      // The user bids again: try again the sellers we stopped bidding to, but those whose limit we reached.
      if (counterparty.stopped?.state !== 'limit-reached') counterparty.stopped = undefined
      counterparty.refusals = 0
    }
    for (const connection of this.connections()) {
      connection.bidRefusal = undefined
      this.maybeBid(connection)
    }
  }

  /**
   * Bids to the seller on this connection, where it sells, we can pay it, and the bid changed;
   * `refresh` sends it again unchanged (a v2 seller then reads our deposit afresh). On a chain a bid
   * goes out only once the channel holds a deposit; until then it is funded, and the bid follows.
   */
  maybeBid (connection: Connection, refresh = false): void {
    const { config } = this.market
    const remote = connection.remote
    const counterparty = connection.counterparty
    if (!remote || !counterparty || remote.floor === undefined || connection.bidRefusal) return
    if (remote.wallet === config.identity.wallet || remote.chainId !== config.identity.chainId) return
    if (!remote.backends.includes(config.settlement.backend)) return
    const bid = counterparty.stopped ? 0n : this.bidFor(counterparty)
    const price = bid >= remote.floor ? bid : 0n
    if (price === connection.bidSent && !(refresh && price > 0n)) return
    if (price === 0n && connection.bidSent === 0n) return
    if (price > 0n && !this.funding.ready(counterparty, () => this.maybeBid(connection))) return
    connection.bidSent = price
    connection.extension.send({ type: 'bid', price, channel: counterparty.toThem, backend: config.settlement.backend })
  }

  /** Bids again to this seller on each of its connections, unchanged bids too (it reads our deposit afresh). */
  private rebid (counterparty: Counterparty): void {
    for (const connection of counterparty.connections) this.maybeBid(connection, true)
  }

  /** Another deposit on our channel to this seller, then the bids again. */
  private topUp (counterparty: Counterparty): void {
    this.funding.fund(counterparty, () => this.rebid(counterparty))
  }

  /** What we owe this seller passed the most a voucher may say: on a chain, top the channel up; else stop bidding to it. */
  private limitReached (counterparty: Counterparty, limit: bigint): void {
    if (this.funding.locksFunds) this.topUp(counterparty)
    else this.stopSeller(counterparty, 'limit-reached', creditCapReached(limit))
  }

  /** A receipt named the seller's limit: one that grew past what we owe lets us bid to it again. */
  private limitConfirmed (counterparty: Counterparty, limit: bigint): void {
    if (counterparty.stopped?.state !== 'limit-reached' || limit <= totalOwed(counterparty.ledger)) return
    counterparty.stopped = undefined
    for (const each of counterparty.connections) this.maybeBid(each)
  }

  /** Stops bidding to one seller, and says why; it serves us as a free peer from then on. */
  private stopSeller (counterparty: Counterparty, state: StoppedState, reason: string): void {
    if (counterparty.stopped?.state === state) return
    counterparty.stopped = { state, reason }
    this.market.notify(`stopped bidding to a seller: ${reason}`, { seller: counterparty.wallet })
    for (const connection of counterparty.connections) this.maybeBid(connection)
  }

  private stopBidding (reason: string): void {
    if (!this.bidding) return
    this.market.notify(`bids withdrawn: ${reason}`, { budget: this.options.budget.toString(), committed: this.paying.totals.committed.toString() })
    this.setBid(0n)
  }

  /** Our bid to each seller on this connection list, for the user. */
  sellers (connections: Iterable<[string, Connection]>): SellerBidView[] {
    const standing = { bidding: this.bidding, budget: this.options.budget, committed: this.paying.totals.committed, budgetLeft: this.paying.budgetLeft }
    const views: SellerBidView[] = []
    for (const [address, connection] of connections) {
      const remote = connection.remote
      const counterparty = connection.counterparty
      if (!remote || !counterparty || remote.floor === undefined) continue
      const state = notBiddingState(connection, counterparty, standing) ??
        biddingState(connection, counterparty, this.bidFor(counterparty), remote.floor, this.funding.locksFunds)
      views.push(sellerBidView(address, connection, counterparty, state))
    }
    return views
  }
}
