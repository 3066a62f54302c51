import { totalOwed } from '../accounting/ledger.js'
import type { BidResponseMessage } from './codec.js'
import type { Connection, Counterparty } from './counterparties.js'
import type { BidState, SellerBidView } from './market-types.js'
import { formatBtt } from '../money/price.js'

/**
 * What our bid to one seller is doing, for the user, pure over what the buyer knows of the
 * connection and the counterparty: the states of market-types.ts's BidState, each with its reason.
 */

export interface BidStateAndReason {
  readonly state: BidState
  readonly reason: string | null
}

/** Whether the seller's quote gives us one of its paid slots. */
export function holdsPaidSlot (response: BidResponseMessage): boolean {
  return response.rank > 0 && response.rank <= response.paidSlots
}

/** Whether this torrent bids at all, and what its budget has committed. */
export interface BuyerStanding {
  readonly bidding: boolean
  readonly budget: bigint
  readonly committed: bigint
  readonly budgetLeft: bigint
}

/** Why no bid goes to this seller, whatever we bid: we stopped, it refused, or the torrent does not bid; undefined otherwise. */
export function notBiddingState (connection: Connection, counterparty: Counterparty, standing: BuyerStanding): BidStateAndReason | undefined {
  if (counterparty.stopped) return { state: counterparty.stopped.state, reason: counterparty.stopped.reason }
  if (connection.bidRefusal) return { state: 'refused', reason: `${connection.bidRefusal.code}: ${connection.bidRefusal.reason}` }
  if (standing.bidding) return undefined
  return standing.budget > 0n && standing.budgetLeft === 0n
    ? { state: 'budget-spent', reason: `${formatBtt(standing.committed)} of a ${formatBtt(standing.budget)} budget committed` }
    : { state: 'not-bidding', reason: null }
}

/** Where a bid of `bid` (base units per MiB) to a seller with this `floor` stands: under it, unsent, ranked or winning. */
export function biddingState (connection: Connection, counterparty: Counterparty, bid: bigint, floor: bigint, locksFunds: boolean): BidStateAndReason {
  if (bid < floor) return { state: 'below-floor', reason: `the seller's floor is ${formatBtt(floor)}/MiB` }
  if (connection.bidSent === 0n) {
    return locksFunds ? { state: 'unfunded', reason: counterparty.funding ? 'funding the channel on chain' : 'waiting to fund the channel' } : { state: 'pending', reason: null }
  }
  const response = connection.response
  if (connection.charge || (response && holdsPaidSlot(response))) return { state: 'winning', reason: null }
  if (response && response.rank > response.paidSlots) return { state: 'outbid', reason: `rank ${response.rank} of ${response.paidSlots} paid slots` }
  return { state: 'pending', reason: response && response.rank > 0 ? 'ranked, not unchoked yet' : null }
}

/** Our bid to the seller at `address`, and what we paid it, for the user. */
export function sellerBidView (address: string, connection: Connection, counterparty: Counterparty, { state, reason }: BidStateAndReason): SellerBidView {
  const signed = counterparty.ledger.paid
  return {
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
  }
}
