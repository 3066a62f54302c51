import { EMPTY_LEDGER, recordPaid, recordVerified, totalOwed, unpaid } from '../accounting/ledger.js'
import { errorMessage } from '../util/errors.js'
import { autoBid, shouldRebid, withinBudget } from './bidding.js'
import type { MarketMessage } from './codec.js'
import { connectionTo, type Connection, type Counterparty, type MarketContext } from './counterparties.js'
import type { Contribution, TorrentMarketOptions } from './market-types.js'
import { isUsd, type Quote } from './price.js'
import { signVoucher } from './voucher.js'

/**
 * The least time between two vouchers to one seller. Every voucher is a synced write before it is
 * sent; one per piece (~350 a second at full speed) kept a disk thread busy syncing and slowed the
 * transfer by a quarter. A voucher covers every piece verified since the last one, so each piece is
 * still paid within this interval, exactly.
 */
const PAYMENT_INTERVAL_MS = 100

/** How long a buyer waits before it tries again to fund a channel after a failure (no coins, no chain). */
const FUND_RETRY_MS = 30_000

/**
 * The buying side of one torrent's market: it bids to sellers (funding the channel first on a
 * chain), learns what each block costs from their quotes, pays for exactly the verified bytes with
 * cumulative vouchers, and keeps within the budget.
 */
export class MarketBuyer {
  /** What this torrent has signed for, across every channel and every run (cumulative). */
  private spent: bigint

  constructor (
    private readonly market: MarketContext,
    private readonly options: TorrentMarketOptions,
    /** What the stored vouchers say this torrent spent in earlier runs: the budget holds across restarts. */
    spentBefore: bigint,
    private readonly connections: () => Iterable<Connection>
  ) {
    this.spent = spentBefore
  }

  get totalSpent (): bigint {
    return this.spent
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
   * exact repeat is harmless.
   */
  connected (connection: Connection, counterparty: Counterparty): void {
    this.market.book.enqueue(counterparty, async () => {
      const latest = counterparty.latestSent
      if (latest && counterparty.connections.has(connection)) connection.extension.send({ type: 'voucher', ...latest })
    })
  }

  /** The seller's quote: blocks from it cost its rate while we hold one of its paid slots. */
  quoted (connection: Connection, response: Extract<MarketMessage, { type: 'bid-response' }>): void {
    const rate = response.rank > 0 && response.rank <= response.paidSlots ? response.rate : 0n
    connection.charge = rate > 0n && connection.remote ? { payee: connection.remote.wallet, rate } : undefined
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
   * Auto-bid (the BTT whitepaper's rule): spending rate × budget left / MiB left, re-bid only on a
   * move of more than 10%. Called about once a second with what is left to download.
   */
  autoBid (bytesLeft: number): void {
    if (!this.options.auto || isUsd(this.options.bid)) return
    const proposed = autoBid(this.market.config.autoBidSpendingRate, this.budgetLeft, bytesLeft)
    if (shouldRebid(this.options.bid, proposed)) this.setBid(proposed)
  }

  /**
   * Withdraws the bids before the budget runs short (docs/protocol.md §7): what is signed, what is
   * owed for verified pieces and what the blocks in flight will cost must fit in it. Paying stops at
   * the budget regardless; this keeps sellers from sending data the budget cannot pay for.
   */
  guardBudget (inFlightByteRate: bigint): void {
    if (!this.bidding) return
    let owed = 0n
    for (const counterparty of this.market.book.values()) owed += unpaid(counterparty.ledger)
    if (!withinBudget(this.options.budget, this.spent + owed, inFlightByteRate)) this.stopBidding('the budget left cannot cover the data in flight')
  }

  /** A changed bid (in BTT, or in USD): sent to every seller at once; a USD bid is agreed anew per channel. */
  setBid (price: Quote): void {
    this.options.bid = price
    for (const counterparty of this.market.book.values()) counterparty.agreedBid = undefined
    for (const connection of this.connections()) this.maybeBid(connection)
  }

  /** Bids to the seller on this connection, where it sells, we can pay it, and the bid changed. */
  maybeBid (connection: Connection): void {
    const { config } = this.market
    const remote = connection.remote
    if (!remote || remote.floor === undefined || connection.bidRefused) return
    if (remote.wallet === config.identity.wallet || remote.chainId !== config.identity.chainId) return
    if (!remote.backends.includes(config.settlement.backend)) return
    const bid = this.bidFor(connection.counterparty)
    const price = bid >= remote.floor ? bid : 0n
    if (price === connection.bidSent) return
    if (price === 0n && connection.bidSent === 0n) return
    if (price > 0n && !this.channelReady(connection)) return
    connection.bidSent = price
    connection.extension.send({ type: 'bid', price, channel: connection.counterparty!.toThem, backend: config.settlement.backend })
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
        counterparty.channelFunds = await config.settlement.fundChannel!(counterparty.wallet, infoHash, counterparty.ledger.paid + deposit)
      } catch (err) {
        // No funds, or no chain: try again later, not at every message (each try is a chain call).
        counterparty.fundRetryAt = Date.now() + FUND_RETRY_MS
        log.warn('cannot fund the channel on chain (bidding waits, and tries again)', { infoHash, seller: counterparty.wallet, retryInSeconds: FUND_RETRY_MS / 1000, error: errorMessage(err) })
        setTimeout(then, FUND_RETRY_MS).unref()
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

  private async pay (counterparty: Counterparty): Promise<void> {
    const { config, book, hooks } = this.market
    const paidSoFar = counterparty.ledger.paid
    let amount = totalOwed(counterparty.ledger)
    if (amount <= paidSoFar) return
    const left = this.budgetLeft
    if (amount - paidSoFar > left) {
      // Never past the budget: pay what is left of it, and stop bidding.
      amount = paidSoFar + left
      this.stopBidding('the budget is spent')
      if (amount === paidSoFar) return
    }
    const funds = counterparty.channelFunds
    if (config.settlement.fundChannel && funds !== undefined && amount > funds) {
      // Never past the deposit (the seller would refuse it): pay what it covers, top it up, pay the rest.
      this.fund(counterparty, () => this.schedulePayment(counterparty))
      amount = funds
      if (amount <= paidSoFar) return
    }
    const voucher = signVoucher(config.identity.privateKey, config.settlement.domain, { channel: counterparty.toThem, nonce: (counterparty.latestSent?.nonce ?? 0) + 1, amount })
    const record = book.record(voucher, config.identity.wallet, counterparty.wallet)
    // Stored before it is sent, with the pieces it pays for: after a crash the next voucher continues
    // from it, and those pieces are looked for on disk rather than bought again.
    const pieces = Buffer.from(hooks.verifiedPieces() ?? new Uint8Array(0))
    await config.store.storeSentVoucher(record, { bitfield: pieces.toString('base64'), at: record.at })
    counterparty.latestSent = voucher
    this.spent += amount - paidSoFar
    counterparty.ledger = recordPaid(counterparty.ledger, amount)
    // A seller that is not connected now gets it when it comes back (see connected).
    connectionTo(counterparty)?.extension.send({ type: 'voucher', ...voucher })
  }

  private stopBidding (reason: string): void {
    if (!this.bidding) return
    this.market.log.info('withdrawing bids', { infoHash: this.market.infoHash, reason })
    this.setBid(0n)
  }
}
