import { EMPTY_LEDGER, recordPaid, recordVerified, rewindPaid, totalOwed, unpaid } from '../accounting/ledger.js'
import type { ReceiptMessage } from './codec.js'
import { connectionTo, hex, type Connection, type Counterparty, type MarketContext } from './counterparties.js'
import type { Contribution, PaymentTotals, TorrentMarketOptions } from './market-types.js'
import { budgetLeft, namesUnsignedVoucher, nextNonce, planVoucher, voucherLimit } from './payment-rules.js'
import { signVoucher } from '../money/voucher.js'

/**
 * The least time between two vouchers to one seller. Every voucher is a synced write before it is
 * sent; one per piece (~350 a second at full speed) kept a disk thread busy syncing and slowed the
 * transfer by a quarter. A voucher covers every piece verified since the last one, so each piece is
 * still paid within this interval, exactly.
 */
const PAYMENT_INTERVAL_MS = 100

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(b)

/** What the payments tell the bidding side (market-buyer.ts) when a voucher meets a limit, or a limit moves. */
export interface PaymentEvents {
  /** The budget cannot pay all that is owed: the bids are to be withdrawn. */
  readonly budgetSpent: () => void
  /** What is owed to this seller passes the most a voucher to it may say (`limit`). */
  readonly limitReached: (counterparty: Counterparty, limit: bigint) => void
  /** A receipt the books took says the most this seller accepts now. */
  readonly limitConfirmed: (counterparty: Counterparty, limit: bigint) => void
}

/**
 * The buyer's payments on one torrent: it owes each seller for exactly the verified bytes it sent,
 * pays them with cumulative vouchers (stored before they are sent), and counts as paid only what
 * the seller's receipts confirm holding. It keeps the torrent's totals, which the budget counts.
 */
export class BuyerPayments {
  /** What this torrent has committed, across every channel and every run: the most signed on each. */
  private committed: bigint
  /** Our latest voucher on each channel, and what the sellers confirmed holding, summed. */
  private signed: bigint
  private accepted: bigint

  constructor (
    private readonly market: MarketContext,
    private readonly options: TorrentMarketOptions,
    /** What the stored vouchers and receipts say of earlier runs: the budget and the books hold across restarts. */
    before: PaymentTotals,
    private readonly events: PaymentEvents
  ) {
    this.committed = before.committed
    this.signed = before.signed
    this.accepted = before.accepted
  }

  /** Committed (what the budget counts), signed, and accepted (paid). */
  get totals (): PaymentTotals {
    return { committed: this.committed, signed: this.signed, accepted: this.accepted }
  }

  get budgetLeft (): bigint {
    return budgetLeft(this.options.budget, this.committed)
  }

  /**
   * A new connection to this counterparty. The seller may not have our latest voucher (it was signed
   * while this peer was away, or before a restart): send it again once the channel is loaded. An
   * exact repeat is harmless, and a v2 seller answers it with a receipt.
   */
  resendLatest (connection: Connection, counterparty: Counterparty): void {
    this.market.book.enqueue(counterparty, async () => {
      const latest = counterparty.latestSent
      if (!latest || !counterparty.connections.has(connection)) return
      connection.extension.send({ type: 'voucher', ...latest })
      this.market.vouchers.resent++
    })
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
    this.market.vouchers.receipts++
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
    if (namesUnsignedVoucher(receipt, counterparty)) {
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
    this.events.limitConfirmed(counterparty, receipt.limit)
    if (unpaid(counterparty.ledger) > 0n) this.schedulePayment(counterparty)
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
    if (counterparty.stopped?.state === 'refused') return
    const signed = counterparty.ledger.paid
    const owed = totalOwed(counterparty.ledger)
    if (owed <= signed) return
    // The budget counts the most signed on each channel: what it has room for on this one.
    const room = counterparty.committed + this.budgetLeft
    const plan = planVoucher(owed, room, voucherLimit(counterparty, this.market.config.settlement.fundChannel !== undefined))
    if (plan.budgetShort) this.events.budgetSpent()
    if (plan.limitShort) this.events.limitReached(counterparty, plan.amount)
    if (plan.amount > signed) await this.sendVoucher(counterparty, plan.amount)
  }

  /** Signs a voucher for `amount`, stores it, counts it in the books, and sends it to the seller. */
  private async sendVoucher (counterparty: Counterparty, amount: bigint): Promise<void> {
    const { config, book, hooks } = this.market
    const voucher = signVoucher(config.identity.privateKey, config.settlement.domain, { channel: counterparty.toThem, nonce: nextNonce(counterparty), amount })
    const committed = amount > counterparty.committed ? amount : counterparty.committed
    const record = { ...book.record(voucher, config.identity.wallet, counterparty.wallet), ...(committed > amount ? { committed: committed.toString() } : {}) }
    // Stored before it is sent, with the pieces it pays for: after a crash the next voucher continues
    // from it, and those pieces are looked for on disk rather than bought again.
    const pieces = Buffer.from(hooks.verifiedPieces() ?? new Uint8Array(0))
    await config.store.storeSentVoucher(record, { bitfield: pieces.toString('base64'), at: record.at })
    this.signed += amount - (counterparty.latestSent?.amount ?? 0n)
    counterparty.latestSent = voucher
    this.committed += committed - counterparty.committed
    counterparty.committed = committed
    counterparty.ledger = recordPaid(counterparty.ledger, amount)
    // A seller that is not connected now gets it when it comes back (see resendLatest).
    const connection = connectionTo(counterparty)
    if (!connection) return
    connection.extension.send({ type: 'voucher', ...voucher })
    this.market.vouchers.sent++
  }
}
