import type { Counterparty, MarketContext } from './counterparties.js'
import { errorMessage } from '../util/errors.js'

/** How long a buyer waits before it tries again to fund a channel after a failure (no coins, no chain). */
const FUND_RETRY_MS = 30_000

/**
 * The buyer's deposits, on a backend that locks funds in channels (a chain): a bid goes out only
 * once our channel to the seller holds a deposit, each deposit is a chain transaction within the
 * budget left, and a failed one is tried again later, not at every message.
 */
export class ChannelFunding {
  constructor (private readonly market: MarketContext, private readonly budgetLeft: () => bigint) {}

  /** Whether bids and vouchers wait on deposits here (a chain), rather than on the seller's credit cap. */
  get locksFunds (): boolean {
    return this.market.config.settlement.fundChannel !== undefined
  }

  /** Whether our channel to this seller can pay more than it paid; if not, funds it and runs `then` once mined. */
  ready (counterparty: Counterparty, then: () => void): boolean {
    if (!this.locksFunds) return true
    if (counterparty.channelFunds !== undefined && counterparty.channelFunds > counterparty.ledger.paid) return true
    this.fund(counterparty, then)
    return false
  }

  /** Funds our channel to a seller with another deposit (within the budget left), then runs `then`. */
  fund (counterparty: Counterparty, then: () => void): void {
    if (counterparty.funding || Date.now() < counterparty.fundRetryAt) return
    const { config, book, infoHash } = this.market
    counterparty.funding = true
    book.enqueue(counterparty, async () => {
      try {
        const left = this.budgetLeft()
        const deposit = left < config.channelDeposit ? left : config.channelDeposit
        if (deposit === 0n) return
        const base = counterparty.channelFunds ?? counterparty.ledger.paid
        counterparty.channelFunds = await config.settlement.fundChannel!(counterparty.wallet, infoHash, base + deposit)
        if (counterparty.stopped?.state === 'unfunded') counterparty.stopped = undefined
      } catch (err) {
        this.failed(counterparty, err, then)
        return
      } finally {
        counterparty.funding = false
      }
      then()
    })
  }

  /** No funds, or no chain: bidding to this seller waits, and funding is tried again later (each try is a chain call). */
  private failed (counterparty: Counterparty, err: unknown, then: () => void): void {
    counterparty.fundRetryAt = Date.now() + FUND_RETRY_MS
    this.market.notify('cannot fund the channel on chain; bidding to this seller waits, and tries again', { seller: counterparty.wallet, retryInSeconds: FUND_RETRY_MS / 1000, error: errorMessage(err) })
    counterparty.stopped ??= { state: 'unfunded', reason: `funding failed: ${errorMessage(err)}` }
    setTimeout(() => {
      if (counterparty.stopped?.state === 'unfunded') counterparty.stopped = undefined
      then()
    }, FUND_RETRY_MS).unref()
    this.market.log.debug('funding failed', { infoHash: this.market.infoHash })
  }
}
