import { AUTO_BID_START, decideAutoBid, type AutoBidState } from './auto-bid.js'
import { autoBid } from './bidding.js'
import type { Connection, MarketContext } from './counterparties.js'
import type { AutoBidView, TorrentMarketOptions, TorrentObservation } from './market-types.js'
import { isUsd } from '../money/price.js'

/** The lowest floor among the connected sellers we still bid to (0: none sells). */
export function lowestSellingFloor (connections: Iterable<Connection>): bigint {
  let lowest = 0n
  for (const connection of connections) {
    const floor = connection.remote?.floor
    if (floor !== undefined && floor > 0n && connection.counterparty?.stopped === undefined && (lowest === 0n || floor < lowest)) lowest = floor
  }
  return lowest
}

/**
 * `--bid auto` for one torrent: once a second it hands auto-bid.ts's pure decision what the torrent
 * sees and what the budget allows, and sets the bid it decides on. It remembers the last decision
 * (its trial and cooldown) and shows it to the user.
 */
export class AutoBidder {
  private state: AutoBidState = AUTO_BID_START

  constructor (
    private readonly market: MarketContext,
    private readonly options: TorrentMarketOptions,
    private readonly connections: () => Iterable<Connection>,
    private readonly budgetLeft: () => bigint,
    private readonly setBid: (bid: bigint) => void
  ) {}

  /**
   * It pays only while paying helps (auto-bid.ts), never above the whitepaper's spending rate ×
   * budget left / MiB left.
   */
  observe (observed: TorrentObservation): void {
    if (!this.options.auto) return
    const standing = isUsd(this.options.bid) ? 0n : this.options.bid
    this.state = decideAutoBid({ ...this.state, bid: standing }, {
      now: Date.now(),
      target: this.options.autoTarget,
      downloadRate: observed.downloadRate,
      paidRate: observed.paidRate,
      seedRate: observed.seedRate,
      onlyFromSeeds: observed.onlyFromSeeds,
      lowestFloor: lowestSellingFloor(this.connections()),
      ceiling: autoBid(this.market.config.autoBidSpendingRate, this.budgetLeft(), observed.bytesLeft)
    })
    if (this.state.bid !== standing) {
      this.market.log.info('auto-bid', { infoHash: this.market.infoHash, bid: this.state.bid.toString(), reason: this.state.reason })
      this.setBid(this.state.bid)
    }
  }

  /** What auto-bid is doing and why; null without `--bid auto`. */
  get view (): AutoBidView | null {
    if (!this.options.auto) return null
    return { bid: this.state.bid.toString(), target: this.options.autoTarget, reason: this.state.reason, since: this.state.changedAt > 0 ? new Date(this.state.changedAt).toISOString() : null }
  }
}
