import { EMPTY_LEDGER, recordPaid, recordVerified, rewindPaid, totalOwed, unpaid } from '../accounting/ledger.js'
import { errorMessage } from '../util/errors.js'
import { AUTO_BID_START, decideAutoBid, type AutoBidState } from './auto-bid.js'
import { autoBid, withinBudget } from './bidding.js'
import type { BidResponseMessage, ReceiptMessage, RejectMessage } from './codec.js'
import { connectionTo, hex, type Connection, type Counterparty, type MarketContext, type StoppedState } from './counterparties.js'
import type { AutoBidView, BidState, Contribution, PaymentTotals, SellerBidView, TorrentMarketOptions, TorrentObservation } from './market-types.js'
import { BYTES_PER_PRICE_UNIT, formatBtt, isUsd, type Quote } from '../money/price.js'
import { signVoucher } from '../money/voucher.js'

/**
 * The least time between two vouchers to one seller. Every voucher is a synced write before it is
 * sent; one per piece (~350 a second at full speed) kept a disk thread busy syncing and slowed the
 * transfer by a quarter. A voucher covers every piece verified since the last one, so each piece is
 * still paid within this interval, exactly.
 */
const PAYMENT_INTERVAL_MS = 100

/** How long a buyer waits before it tries again to fund a channel after a failure (no coins, no chain). */
const FUND_RETRY_MS = 30_000

/** A seller that refuses this many vouchers in a row without accepting one is not paid again. */
const MAX_REFUSALS = 3

/** Refusals that no new voucher can mend: the seller cannot take our vouchers at all. */
const FINAL_REFUSALS = new Set<RejectMessage['code']>(['bad-signature', 'unknown-channel', 'unsupported-backend', 'wrong-chain', 'self-trade'])

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(b)

/**
 * The buying side of one torrent's market: it bids to sellers (funding the channel first on a
 * chain, and topping it up before it runs dry), learns what each block costs from their quotes,
 * pays for exactly the verified bytes with cumulative vouchers, never signs past the budget or past
 * what a seller said it accepts, and counts as paid only what the seller confirmed holding.
 */
export class MarketBuyer {
  /** What this torrent has committed, across every channel and every run: the most signed on each. */
  private spent: bigint
  /** Our latest voucher on each channel, and what the sellers confirmed holding, summed. */
  private signed: bigint
  private accepted: bigint
  /** Auto-bid's last decision (with `--bid auto`). */
  private auto: AutoBidState = AUTO_BID_START

  constructor (
    private readonly market: MarketContext,
    private readonly options: TorrentMarketOptions,
    /** What the stored vouchers and receipts say of earlier runs: the budget and the books hold across restarts. */
    before: PaymentTotals,
    private readonly connections: () => Iterable<Connection>
  ) {
    this.spent = before.committed
    this.signed = before.signed
    this.accepted = before.accepted
  }

  /** The torrent's payments: committed (what the budget counts), signed, and accepted (paid). */
  get payments (): PaymentTotals {
    return { committed: this.spent, signed: this.signed, accepted: this.accepted }
  }

  /** Whether this torrent bids at all (in BTT or in USD). */
  private get bidding (): boolean {
    const bid = this.options.bid
    return (isUsd(bid) ? bid.usdPerMiB : bid) > 0n
  }

  private get budgetLeft (): bigint {
    return this.options.budget > this.spent ? this.options.budget - this.spent : 0n
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

  /**
   * A new connection to this counterparty. The seller may not have our latest voucher (it was signed
   * while this peer was away, or before a restart): send it again once the channel is loaded. An
   * exact repeat is harmless, and a v2 seller answers it with a receipt.
   */
  connected (connection: Connection, counterparty: Counterparty): void {
    this.market.book.enqueue(counterparty, async () => {
      const latest = counterparty.latestSent
      if (latest && counterparty.connections.has(connection)) connection.extension.send({ type: 'voucher', ...latest })
    })
  }

  /** The seller's quote: blocks from it cost its rate while we hold one of its paid slots. */
  quoted (connection: Connection, response: BidResponseMessage): void {
    connection.response = response
    const rate = response.rank > 0 && response.rank <= response.paidSlots ? response.rate : 0n
    connection.charge = rate > 0n && connection.remote ? { payee: connection.remote.wallet, rate } : undefined
  }

  /**
   * The seller's receipt: what it holds from us and the most it accepts. Our books follow it: what
   * it holds is what is paid. After a refusal we sign again from what it holds, and a limit that
   * grew (a top-up the seller has read) lets the rest be paid.
   */
  receipt (connection: Connection, receipt: ReceiptMessage): void {
    const counterparty = connection.counterparty
    if (!counterparty) return
    const { book, log, infoHash } = this.market
    if (!bytesEqual(receipt.channel, counterparty.toThem)) {
      log.debug('a seller sent a receipt for another channel', { infoHash, seller: counterparty.wallet })
      return
    }
    counterparty.sellerLimit = receipt.limit
    // Receipts only ever supersede one another: one step handles the newest, however many arrive.
    const scheduled = counterparty.pendingReceipt !== undefined
    counterparty.pendingReceipt = receipt
    if (scheduled) return
    book.enqueue(counterparty, async () => {
      const newest = counterparty.pendingReceipt
      counterparty.pendingReceipt = undefined
      if (newest) await this.takeReceipt(counterparty, newest)
    })
  }

  private async takeReceipt (counterparty: Counterparty, receipt: ReceiptMessage): Promise<void> {
    const { log, infoHash } = this.market
    if (receipt.amount > counterparty.committed || receipt.nonce > (counterparty.latestSent?.nonce ?? 0)) {
      // No voucher of ours says that much, or has that nonce: nothing is taken on the seller's word alone.
      log.debug('a seller names a voucher this wallet never signed', { infoHash, seller: counterparty.wallet, nonce: receipt.nonce, amount: receipt.amount.toString(), signed: counterparty.committed.toString() })
      return
    }
    if (receipt.nonce > counterparty.accepted.nonce) {
      this.accepted += receipt.amount - counterparty.accepted.amount
      counterparty.accepted = { nonce: receipt.nonce, amount: receipt.amount }
      await this.market.config.store.acceptedVouchers.putEventually(hex(counterparty.toThem), {
        channel: hex(counterparty.toThem), infoHash, payee: counterparty.wallet, nonce: receipt.nonce, amount: receipt.amount.toString(), at: new Date().toISOString()
      })
    }
    if (counterparty.resyncOnReceipt && receipt.amount <= counterparty.committed) {
      counterparty.resyncOnReceipt = false
      counterparty.ledger = rewindPaid(counterparty.ledger, receipt.amount)
    }
    if (counterparty.latestSent && receipt.nonce >= counterparty.latestSent.nonce) counterparty.refusals = 0
    if (counterparty.stopped?.state === 'limit-reached' && receipt.limit > totalOwed(counterparty.ledger)) {
      counterparty.stopped = undefined
      for (const each of counterparty.connections) this.maybeBid(each)
    }
    if (unpaid(counterparty.ledger) > 0n) this.schedulePayment(counterparty)
  }

  /** The seller refused a bid or a voucher: handled, and said, not only logged. */
  refused (connection: Connection, message: RejectMessage): void {
    const counterparty = connection.counterparty
    if (!counterparty) return
    const reason = `${message.code}: ${message.reason}`
    if (message.about === 'bid') {
      if (message.code === 'over-funds' && this.market.config.settlement.fundChannel) {
        // The seller read no deposit beyond what is paid: top the channel up, then bid again.
        counterparty.channelFunds = undefined
        return this.fund(counterparty, () => this.maybeBid(connection, true))
      }
      if (message.code === 'over-funds') return this.stopSeller(counterparty, 'limit-reached', `the seller's credit cap is used up (${message.reason})`)
      connection.bidRefusal = { code: message.code, reason: message.reason }
      this.market.notify('a seller refused the bid', { seller: counterparty.wallet, reason })
      return
    }
    if (message.about !== 'voucher') return
    counterparty.refusals++
    if (FINAL_REFUSALS.has(message.code) || counterparty.refusals > MAX_REFUSALS) {
      this.stopSeller(counterparty, 'refused', `it refuses our vouchers (${reason})`)
      return
    }
    // Sign again from the voucher it holds, which its receipt (right behind the refusal) names.
    counterparty.resyncOnReceipt = true
    this.market.log.info('a seller refused a voucher; paying again from what it holds', { infoHash: this.market.infoHash, seller: counterparty.wallet, reason })
  }

  /**
   * A piece passed its hash check: owe each sender for exactly its bytes at its rate, and pay. A
   * sender that has since disconnected is still paid: the voucher is stored now and sent when it
   * reconnects.
   */
  verified (contributions: readonly Contribution[]): void {
    const { book, trades } = this.market
    const owedTo = new Set<Counterparty>()
    for (const { charge, bytes } of contributions) {
      const counterparty = book.of(charge.payee)
      counterparty.ledger = recordVerified(counterparty.ledger, bytes, charge.rate)
      trades.set(charge.payee, recordVerified(trades.get(charge.payee) ?? EMPTY_LEDGER, bytes, charge.rate))
      owedTo.add(counterparty)
    }
    for (const counterparty of owedTo) this.schedulePayment(counterparty)
  }

  /**
   * Auto-bid, about once a second with what the torrent sees: it pays only while paying helps
   * (auto-bid.ts), never above the whitepaper's spending rate × budget left / MiB left.
   */
  autoBid (observed: TorrentObservation): void {
    if (!this.options.auto) return
    let lowestFloor = 0n
    for (const connection of this.connections()) {
      const floor = connection.remote?.floor
      if (floor !== undefined && floor > 0n && connection.counterparty?.stopped === undefined && (lowestFloor === 0n || floor < lowestFloor)) lowestFloor = floor
    }
    const standing = isUsd(this.options.bid) ? 0n : this.options.bid
    this.auto = decideAutoBid({ ...this.auto, bid: standing }, {
      now: Date.now(),
      target: this.options.autoTarget,
      downloadRate: observed.downloadRate,
      paidRate: observed.paidRate,
      seedRate: observed.seedRate,
      onlyFromSeeds: observed.onlyFromSeeds,
      lowestFloor,
      ceiling: autoBid(this.market.config.autoBidSpendingRate, this.budgetLeft, observed.bytesLeft)
    })
    if (this.auto.bid !== standing) {
      this.market.log.info('auto-bid', { infoHash: this.market.infoHash, bid: this.auto.bid.toString(), reason: this.auto.reason })
      this.setBid(this.auto.bid)
    }
  }

  /** What auto-bid is doing and why; null without `--bid auto`. */
  get autoBidView (): AutoBidView | null {
    if (!this.options.auto) return null
    return { bid: this.auto.bid.toString(), target: this.options.autoTarget, reason: this.auto.reason, since: this.auto.changedAt > 0 ? new Date(this.auto.changedAt).toISOString() : null }
  }

  /**
   * Runs about once a second with what the blocks in flight will cost, per seller (Σ bytes × rate).
   * It withdraws the bids before the budget runs short (docs/protocol.md §7), stops bidding to a
   * seller before what we owe it passes what it accepts, and on a chain tops a channel up while
   * half a deposit is still left, so that a paid slot is never lost for want of a deposit.
   */
  guard (inFlight: ReadonlyMap<string, bigint>): void {
    if (!this.bidding) return
    const { config } = this.market
    let owed = 0n
    let flying = 0n
    for (const counterparty of this.market.book.values()) {
      owed += unpaid(counterparty.ledger)
      const flight = inFlight.get(counterparty.wallet) ?? 0n
      flying += flight
      const exposure = totalOwed(counterparty.ledger) + (flight + BYTES_PER_PRICE_UNIT - 1n) / BYTES_PER_PRICE_UNIT
      if (config.settlement.fundChannel) {
        const funds = counterparty.channelFunds
        if (funds !== undefined && flight > 0n && funds - exposure < config.channelDeposit / 2n && this.budgetLeft > 0n) {
          this.fund(counterparty, () => { for (const connection of counterparty.connections) this.maybeBid(connection, true) })
        }
      } else if (counterparty.sellerLimit !== undefined && exposure >= counterparty.sellerLimit && !counterparty.stopped) {
        this.stopSeller(counterparty, 'limit-reached', `the seller's credit cap of ${formatBtt(counterparty.sellerLimit)} on this channel is reached`)
      }
    }
    if (!withinBudget(this.options.budget, this.spent + owed, flying)) this.stopBidding('the budget left cannot cover the data in flight')
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
   * `refresh` sends it again unchanged (a v2 seller then reads our deposit afresh).
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
    if (price > 0n && !this.channelReady(connection)) return
    connection.bidSent = price
    connection.extension.send({ type: 'bid', price, channel: counterparty.toThem, backend: config.settlement.backend })
  }

  /**
   * On a backend that locks funds, a bid goes out only once our channel to the seller holds a
   * deposit; until then this funds it (a chain transaction) and bids when it is mined.
   */
  private channelReady (connection: Connection): boolean {
    const counterparty = connection.counterparty
    if (!this.market.config.settlement.fundChannel || !counterparty) return true
    if (counterparty.channelFunds !== undefined && counterparty.channelFunds > counterparty.ledger.paid) return true
    this.fund(counterparty, () => this.maybeBid(connection))
    return false
  }

  /** Funds our channel to a seller with another deposit (within the budget left), then runs `then`. */
  private fund (counterparty: Counterparty, then: () => void): void {
    if (counterparty.funding || Date.now() < counterparty.fundRetryAt) return
    const { config, book, infoHash, log } = this.market
    counterparty.funding = true
    book.enqueue(counterparty, async () => {
      try {
        const left = this.budgetLeft
        const deposit = left < config.channelDeposit ? left : config.channelDeposit
        if (deposit === 0n) return
        const base = counterparty.channelFunds ?? counterparty.ledger.paid
        counterparty.channelFunds = await config.settlement.fundChannel!(counterparty.wallet, infoHash, base + deposit)
        if (counterparty.stopped?.state === 'unfunded') counterparty.stopped = undefined
      } catch (err) {
        // No funds, or no chain: try again later, not at every message (each try is a chain call).
        counterparty.fundRetryAt = Date.now() + FUND_RETRY_MS
        this.market.notify('cannot fund the channel on chain; bidding to this seller waits, and tries again', { seller: counterparty.wallet, retryInSeconds: FUND_RETRY_MS / 1000, error: errorMessage(err) })
        counterparty.stopped ??= { state: 'unfunded', reason: `funding failed: ${errorMessage(err)}` }
        setTimeout(() => {
          if (counterparty.stopped?.state === 'unfunded') counterparty.stopped = undefined
          then()
        }, FUND_RETRY_MS).unref()
        log.debug('funding failed', { infoHash })
        return
      } finally {
        counterparty.funding = false
      }
      then()
    })
  }

  /**
   * One payment step at a time per seller, each paying everything verified before it starts: a
   * voucher per verified piece while the disk keeps up, fewer synced writes when it does not.
   */
  private schedulePayment (counterparty: Counterparty): void {
    if (counterparty.payScheduled) return
    counterparty.payScheduled = true
    this.market.book.enqueue(counterparty, async () => {
      const wait = counterparty.lastPaymentAt + PAYMENT_INTERVAL_MS - Date.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      counterparty.payScheduled = false
      counterparty.lastPaymentAt = Date.now()
      await this.pay(counterparty)
    })
  }

  /**
   * The most a voucher to this seller may say. On a chain, our deposit as we funded it: the seller
   * reads the chain again for a voucher above the deposit it last read, so a top-up counts at once.
   * Elsewhere, what the seller said it accepts (its credit cap).
   */
  private limitOf (counterparty: Counterparty): bigint | undefined {
    if (this.market.config.settlement.fundChannel) return counterparty.channelFunds ?? counterparty.sellerLimit
    return counterparty.sellerLimit
  }

  private async pay (counterparty: Counterparty): Promise<void> {
    const { config, book, hooks } = this.market
    if (counterparty.stopped?.state === 'refused') return
    const signed = counterparty.ledger.paid
    let amount = totalOwed(counterparty.ledger)
    if (amount <= signed) return
    // The budget counts the most signed on each channel: what it has room for on this one.
    const room = counterparty.committed + this.budgetLeft
    if (amount > room) {
      amount = room
      this.stopBidding('the budget is spent')
    }
    const limit = this.limitOf(counterparty)
    if (limit !== undefined && amount > limit) {
      // Never past what the seller accepts (it would refuse it) or past the deposit.
      amount = limit
      if (config.settlement.fundChannel) this.fund(counterparty, () => { for (const connection of counterparty.connections) this.maybeBid(connection, true) })
      else this.stopSeller(counterparty, 'limit-reached', `the seller's credit cap of ${formatBtt(limit)} on this channel is reached`)
    }
    if (amount <= signed) return
    const nonce = Math.max(counterparty.latestSent?.nonce ?? 0, counterparty.accepted.nonce) + 1
    const voucher = signVoucher(config.identity.privateKey, config.settlement.domain, { channel: counterparty.toThem, nonce, amount })
    const committed = amount > counterparty.committed ? amount : counterparty.committed
    const record = { ...book.record(voucher, config.identity.wallet, counterparty.wallet), ...(committed > amount ? { committed: committed.toString() } : {}) }
    // Stored before it is sent, with the pieces it pays for: after a crash the next voucher continues
    // from it, and those pieces are looked for on disk rather than bought again.
    const pieces = Buffer.from(hooks.verifiedPieces() ?? new Uint8Array(0))
    await config.store.storeSentVoucher(record, { bitfield: pieces.toString('base64'), at: record.at })
    this.signed += amount - (counterparty.latestSent?.amount ?? 0n)
    counterparty.latestSent = voucher
    this.spent += committed - counterparty.committed
    counterparty.committed = committed
    counterparty.ledger = recordPaid(counterparty.ledger, amount)
    // A seller that is not connected now gets it when it comes back (see connected).
    connectionTo(counterparty)?.extension.send({ type: 'voucher', ...voucher })
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
    this.market.notify(`bids withdrawn: ${reason}`, { budget: this.options.budget.toString(), committed: this.spent.toString() })
    this.setBid(0n)
  }

  /** Our bid to each seller on this connection list, for the user. */
  sellers (connections: Iterable<[string, Connection]>): SellerBidView[] {
    const views: SellerBidView[] = []
    for (const [address, connection] of connections) {
      const remote = connection.remote
      const counterparty = connection.counterparty
      if (!remote || !counterparty || remote.floor === undefined) continue
      const { state, reason } = this.stateOf(connection, counterparty, remote.floor)
      const signed = counterparty.ledger.paid
      views.push({
        address,
        wallet: counterparty.wallet,
        state,
        reason,
        bid: connection.bidSent.toString(),
        rate: (connection.charge?.rate ?? 0n).toString(),
        rank: connection.response?.rank ?? 0,
        paidSlots: connection.response?.paidSlots ?? 0,
        paid: counterparty.accepted.amount.toString(),
        signedNotAccepted: (signed > counterparty.accepted.amount ? signed - counterparty.accepted.amount : 0n).toString(),
        owed: totalOwed(counterparty.ledger).toString(),
        limit: counterparty.sellerLimit?.toString() ?? null
      })
    }
    return views
  }

  private stateOf (connection: Connection, counterparty: Counterparty, floor: bigint): { state: BidState, reason: string | null } {
    if (counterparty.stopped) return { state: counterparty.stopped.state, reason: counterparty.stopped.reason }
    if (connection.bidRefusal) return { state: 'refused', reason: `${connection.bidRefusal.code}: ${connection.bidRefusal.reason}` }
    if (!this.bidding) {
      return this.options.budget > 0n && this.budgetLeft === 0n
        ? { state: 'budget-spent', reason: `${formatBtt(this.spent)} of a ${formatBtt(this.options.budget)} budget committed` }
        : { state: 'not-bidding', reason: null }
    }
    const bid = this.bidFor(counterparty)
    if (bid < floor) return { state: 'below-floor', reason: `the seller's floor is ${formatBtt(floor)}/MiB` }
    if (connection.bidSent === 0n) {
      return this.market.config.settlement.fundChannel ? { state: 'unfunded', reason: counterparty.funding ? 'funding the channel on chain' : 'waiting to fund the channel' } : { state: 'pending', reason: null }
    }
    const response = connection.response
    if (connection.charge || (response && response.rank > 0 && response.rank <= response.paidSlots)) return { state: 'winning', reason: null }
    if (response && response.rank > response.paidSlots) return { state: 'outbid', reason: `rank ${response.rank} of ${response.paidSlots} paid slots` }
    return { state: 'pending', reason: response && response.rank > 0 ? 'ranked, not unchoked yet' : null }
  }
}
