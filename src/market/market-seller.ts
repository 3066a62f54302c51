import { EMPTY_LEDGER, debt, recordReceived, recordSent, standing, thresholdsAtRate, totalCharged, type DebtThresholds } from '../accounting/ledger.js'
import type { BidQuote, ChokeDecision } from '../choker/types.js'
import { judgeVoucher } from './acceptance.js'
import type { BidMessage, MarketMessage, RejectCode, VoucherMessage } from './codec.js'
import { hex, type Connection, type Counterparty, type MarketContext } from './counterparties.js'
import type { TorrentMarketOptions } from './market-types.js'
import { MAX_AMOUNT, formatBtt, isUsd } from '../money/price.js'
import { countRefusal } from './voucher-tally.js'

/**
 * A seller extends at least this much data on credit at the quoted rate: a bidder pays for pieces as
 * they verify (up to 4 MiB each, and a voucher per 100 ms), so less would stall every transfer
 * whose price makes the configured payment threshold worth only a few blocks.
 */
const MIN_CREDIT_BYTES = 8 * 1024 * 1024

/**
 * A bidder's bid makes us read its channel from the chain afresh (it says it topped the channel up)
 * at most this often: bids are cheap to send, chain reads are not.
 */
const FRESH_FUNDS_INTERVAL_MS = 5000

function reject (connection: Connection, code: RejectCode, about: MarketMessage['type'], reason: string): void {
  connection.extension.send({ type: 'reject', code, about, reason })
}

/**
 * The selling side of one torrent's market: it judges bids against the floor and the channel's
 * funds, quotes the auction's ranks and rates, meters what it sends at those rates, asks for
 * payment, and takes vouchers only once they are checked and stored, telling the bidder what it
 * holds and what it accepts (receipts, protocol v2) so that both sides' books agree.
 */
export class MarketSeller {
  constructor (private readonly market: MarketContext, private readonly options: TorrentMarketOptions) {}

  /** The floor in force now, base units per MiB; 0 = this torrent sells nothing. */
  get floor (): bigint {
    const floor = this.options.floor ?? this.market.config.defaultFloor
    // Without a price a USD floor cannot be met: no bid is accepted until one is known.
    return isUsd(floor) ? this.market.config.prices?.toBtt(floor.usdPerMiB) ?? MAX_AMOUNT : floor
  }

  /** Whether this torrent sells upload slots: only with a floor above zero, set by the user. */
  get selling (): boolean {
    return this.floor > 0n
  }

  /** The debt thresholds for a bidder at the rate we quoted it (see thresholdsAtRate). */
  thresholdsFor (connection: Connection): DebtThresholds {
    return thresholdsAtRate(this.market.config.thresholds, connection.quote?.rate ?? 0n, MIN_CREDIT_BYTES)
  }

  /** Whether the bidder on this connection owes too much to be served. */
  cutOff (connection: Connection): boolean {
    return standing(connection.counterparty?.ledger ?? EMPTY_LEDGER, this.thresholdsFor(connection)) === 'cut-off'
  }

  /**
   * Sends each bidder its rank and rate where they changed. The engine calls this before it applies
   * the decision, so a bid response always reaches a winner before the unchoke that opens its slot.
   */
  applyQuotes (connections: Iterable<[string, Connection]>, decision: ChokeDecision): void {
    for (const [address, connection] of connections) {
      if (!connection.remote) continue
      const quote = decision.quotes?.get(address)
      const paid = decision.unchoke.get(address) === 'paid'
      const next: BidQuote = quote && paid ? quote : { rate: 0n, rank: quote?.rank ?? 0 }
      const current = connection.quote
      if (current && current.rate === next.rate && current.rank === next.rank) continue
      if (!current && next.rate === 0n && next.rank === 0) continue
      connection.quote = next
      connection.extension.send({ type: 'bid-response', rate: next.rate, rank: next.rank, paidSlots: decision.paidSlots ?? 0 })
    }
  }

  /** A block left on this connection: meter it at the rate we quoted, and ask for payment or cut it off past the thresholds. */
  sent (connection: Connection, bytes: number): void {
    const counterparty = connection.counterparty
    if (!connection.quote || connection.quote.rate === 0n || !counterparty) return
    const { trades, hooks } = this.market
    counterparty.ledger = recordSent(counterparty.ledger, bytes, connection.quote.rate)
    trades.set(counterparty.wallet, recordSent(trades.get(counterparty.wallet) ?? EMPTY_LEDGER, bytes, connection.quote.rate))
    const owed = debt(counterparty.ledger)
    const thresholds = this.thresholdsFor(connection)
    const standingNow = standing(counterparty.ledger, thresholds)
    if (standingNow === 'cut-off') {
      hooks.requestRechoke()
    } else if (standingNow === 'payment-due' && owed > connection.lastPaymentRequest && connection.bid) {
      connection.lastPaymentRequest = owed + thresholds.payment / 4n
      connection.extension.send({ type: 'payment-request', channel: connection.bid.channel, owed: totalCharged(counterparty.ledger) })
    }
  }

  onBid (connection: Connection, bid: BidMessage): void {
    const { config, hooks, book } = this.market
    const remote = connection.remote!
    const refuse = (code: RejectCode, reason: string): void => {
      connection.bid = undefined
      reject(connection, code, 'bid', reason)
      hooks.requestRechoke()
    }
    if (!this.selling) return refuse('below-floor', 'this peer sells no upload slots for this torrent')
    if (remote.wallet === config.identity.wallet) return refuse('self-trade', 'the bidder pays from this seller\'s own wallet')
    if (remote.chainId !== config.identity.chainId) return refuse('wrong-chain', `vouchers here are for chain ${config.identity.chainId}`)
    if (bid.backend !== config.settlement.backend) return refuse('unsupported-backend', `this seller settles with ${config.settlement.backend}`)
    const counterparty = connection.counterparty!
    if (!Buffer.from(bid.channel).equals(counterparty.toUs)) return refuse('unknown-channel', 'not the channel of this payer, payee and torrent')
    if (bid.price === 0n) {
      connection.bid = undefined
      return hooks.requestRechoke()
    }
    if (bid.price < this.floor) return refuse('below-floor', `the floor is ${this.floor} base units per MiB`)
    // The bid counts only if the channel can pay more than what it paid: a deposit on a chain, the
    // credit cap on the embedded backend. A repeated bid asks us to read a chain deposit afresh.
    book.enqueue(counterparty, async () => {
      const funds = await this.fundsFor(counterparty, connection.bid !== undefined)
      if (funds <= counterparty.ledger.received) {
        const what = config.settlement.fundChannel ? 'the channel holds no deposit beyond' : 'this seller\'s credit cap is used up by'
        refuse('over-funds', `${what} the ${formatBtt(counterparty.ledger.received)} already paid`)
        return this.sendReceipt(connection, counterparty, funds)
      }
      connection.bid = bid
      this.sendReceipt(connection, counterparty, funds)
      hooks.requestRechoke()
    })
  }

  /** What the bidder's channel can pay in all; `fresh` reads a chain afresh (not more often than every few seconds). */
  private async fundsFor (counterparty: Counterparty, fresh: boolean): Promise<bigint> {
    const { settlement } = this.market.config
    const now = Date.now()
    const reread = fresh && settlement.fundChannel !== undefined && now - counterparty.fundsReadAt >= FRESH_FUNDS_INTERVAL_MS
    if (reread) counterparty.fundsReadAt = now
    return settlement.fundsOf(hex(counterparty.toUs), reread ? MAX_AMOUNT : counterparty.ledger.received + 1n)
  }

  /** Tells the bidder what we hold of its vouchers and the most we accept on its channel (v2 peers only). */
  private sendReceipt (connection: Connection, counterparty: Counterparty, limit: bigint): void {
    connection.extension.send({ type: 'receipt', channel: counterparty.toUs, nonce: counterparty.receivedNonce, amount: counterparty.ledger.received, limit })
  }

  /**
   * A voucher arrived. Each is stored with a synced write: while one is being checked and stored,
   * newer ones wait, and only the newest of them is looked at (it supersedes the rest).
   */
  receive (address: string, connection: Connection, voucher: VoucherMessage): void {
    const counterparty = connection.counterparty
    if (!counterparty) return
    this.market.vouchers.received++
    const scheduled = counterparty.pendingVoucher !== undefined
    counterparty.pendingVoucher = { voucher, from: connection }
    if (scheduled) return
    this.market.book.enqueue(counterparty, async () => {
      const newest = counterparty.pendingVoucher
      counterparty.pendingVoucher = undefined
      if (newest) await this.accept(address, counterparty, newest.from, newest.voucher)
    })
  }

  private async accept (address: string, counterparty: Counterparty, connection: Connection, voucher: VoucherMessage): Promise<void> {
    const { config, hooks, book, infoHash, vouchers } = this.market
    const channel = hex(voucher.channel)
    const stored = await config.store.receivedVouchers.get(channel)
    const funds = await config.settlement.fundsOf(channel, voucher.amount)
    // The payer re-sends its latest voucher on every new connection: the one we hold changes
    // nothing, and the receipt tells the payer that we hold it.
    if (stored && stored.nonce === voucher.nonce && stored.amount === voucher.amount.toString() && stored.signature === hex(voucher.signature)) {
      vouchers.repeated++
      return this.sendReceipt(connection, counterparty, funds)
    }
    const best = stored ? { nonce: stored.nonce, amount: BigInt(stored.amount) } : undefined
    const verdict = judgeVoucher(voucher, {
      payer: counterparty.wallet,
      payee: config.identity.wallet,
      infoHash,
      backend: config.settlement.backend,
      domain: config.settlement.domain,
      funds
    }, best)
    if (!verdict.ok) {
      countRefusal(vouchers, verdict.code)
      config.networkLog.warn(address, 'refused a voucher', { infoHash, code: verdict.code, reason: verdict.reason })
      reject(connection, verdict.code, 'voucher', verdict.reason)
      return this.sendReceipt(connection, counterparty, funds)
    }
    // Durable before it counts: a crash after this line keeps the voucher, before it the payer still owes.
    await config.store.receivedVouchers.put(channel, book.record(voucher, counterparty.wallet, config.identity.wallet))
    const thresholds = this.thresholdsFor(connection)
    const before = standing(counterparty.ledger, thresholds)
    counterparty.ledger = recordReceived(counterparty.ledger, voucher.amount)
    counterparty.receivedNonce = voucher.nonce
    vouchers.accepted++
    this.sendReceipt(connection, counterparty, funds)
    config.onVoucherStored()
    if (before === 'cut-off' && standing(counterparty.ledger, thresholds) !== 'cut-off') hooks.requestRechoke()
  }
}
