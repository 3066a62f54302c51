import { chooseOptimistic, rankByRate, standardChoker } from './standard.js'
import type { BidQuote, ChokeDecision, Choker, ChokerContext, MarketSettings, PeerSnapshot, SlotKind } from './types.js'

/** Hysteresis is applied to bids in thousandths, so it stays in integer arithmetic. */
const PER_MILLE = 1000n

/** How many of the regular slots are kept for non-bidders: at least `minReservedSlots` and `reservedShare`. */
export function reservedSlots (slots: number, market: MarketSettings): number {
  return Math.min(slots, Math.max(market.minReservedSlots, Math.ceil(slots * market.reservedShare)))
}

/** A bidder who may compete for a paid slot: interested, at or above the floor, funded, not ourselves, not cut off. */
export function isEligibleBidder (peer: PeerSnapshot, market: MarketSettings): boolean {
  const bid = peer.market
  return peer.interested && bid !== undefined && bid.bid > 0n && bid.bid >= market.floor && bid.funded && !bid.selfTrade && !bid.cutOff
}

/**
 * Orders eligible bidders best first. A paid-slot holder's bid counts `hysteresis` higher, so a
 * challenger must outbid it by that margin to take its slot: two near-equal bidders do not trade a
 * slot at every rechoke, and a rechoke on each bid change stays stable.
 */
export function rankBids (bidders: readonly PeerSnapshot[], hysteresis: number): PeerSnapshot[] {
  const bonus = PER_MILLE + BigInt(Math.round(hysteresis * 1000))
  const score = (peer: PeerSnapshot): bigint => peer.market!.paidSlot ? peer.market!.bid * bonus : peer.market!.bid * PER_MILLE
  return [...bidders].sort((a, b) => {
    const difference = score(b) - score(a)
    if (difference !== 0n) return difference > 0n ? 1 : -1
    return Number(b.market!.paidSlot) - Number(a.market!.paidSlot) ||
      a.connectedAt - b.connectedAt ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  })
}

/**
 * The price every winner pays. Uniform: the highest losing bid, or the floor when every eligible
 * bidder won (the multi-unit uniform-price auction of the BTT whitepaper). Pay-as-bid: each its own.
 * Never above a winner's own bid (an incumbent kept by hysteresis may bid below the best loser).
 */
export function clearingRate (winner: PeerSnapshot, losers: readonly PeerSnapshot[], market: MarketSettings): bigint {
  const bid = winner.market!.bid
  if (market.clearing === 'pay-as-bid') return bid
  const highestLosing = losers.reduce((best, peer) => (peer.market!.bid > best ? peer.market!.bid : best), 0n)
  const price = highestLosing > market.floor ? highestLosing : market.floor
  return price < bid ? price : bid
}

/**
 * The bid-aware choker. Of the regular slots, a reserved share goes to peers by the usual
 * reciprocity (non-bidders first) and the rest is sold to the highest eligible bids; the optimistic
 * unchoke rotates among everyone left and is never sold. Paid slots nobody bid for go back to free
 * peers, and a peer cut off for unpaid debt gets no slot at all. Without market settings it is the
 * standard choker.
 */
export const bidChoker: Choker = (peers, state, context): ChokeDecision => {
  const market = context.market
  if (!market) return standardChoker(peers, state, context)
  const { settings } = context
  const candidates = peers.filter((peer) => peer.interested && !peer.market?.cutOff)
  const bidders = rankBids(candidates.filter((peer) => isEligibleBidder(peer, market)), settings.hysteresis)
  const paidSlots = settings.slots - reservedSlots(settings.slots, market)
  const winners = bidders.slice(0, paidSlots)
  const losers = bidders.slice(paidSlots)

  const quotes = new Map<string, BidQuote>()
  bidders.forEach((peer, index) => quotes.set(peer.id, { rate: index < paidSlots ? clearingRate(peer, losers, market) : 0n, rank: index + 1 }))

  const unchoke = new Map<string, SlotKind>()
  for (const peer of winners) unchoke.set(peer.id, 'paid')
  const freeSlots = settings.slots - winners.length
  const rest = candidates.filter((peer) => !unchoke.has(peer.id))
  const bidderIds = new Set(bidders.map((peer) => peer.id))
  const nonBidders = rankByRate(rest.filter((peer) => !bidderIds.has(peer.id)), context)
  const losingBidders = rankByRate(rest.filter((peer) => bidderIds.has(peer.id)), context)
  for (const peer of [...nonBidders, ...losingBidders].slice(0, freeSlots)) unchoke.set(peer.id, 'regular')

  const optimisticState = chooseOptimistic(rest.filter((peer) => !unchoke.has(peer.id)), state, context as ChokerContext)
  for (const id of optimisticState.optimistic) unchoke.set(id, 'optimistic')
  return { unchoke, state: optimisticState, quotes, paidSlots }
}
