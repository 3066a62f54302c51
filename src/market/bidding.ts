import { BYTES_PER_PRICE_UNIT } from '../money/price.js'

/** Auto-bid moves smaller than this share of the current bid are not sent (the whitepaper's 10%). */
export const REBID_THRESHOLD_PERCENT = 10n

/**
 * The BTT whitepaper's auto-bid: spending rate × remaining budget / remaining MiB, in base units per
 * MiB. `spendingRate` is the share of the budget the user lets it spend (0 to 1, 1 by default).
 * bidtorrent's auto-bid (auto-bid.ts) never bids more than this, so the budget lasts the download.
 */
export function autoBid (spendingRate: number, remainingBudget: bigint, remainingBytes: number): bigint {
  if (!(spendingRate >= 0 && spendingRate <= 1)) throw new RangeError('the spending rate is between 0 and 1')
  if (remainingBudget <= 0n || remainingBytes <= 0) return 0n
  const perMille = BigInt(Math.round(spendingRate * 1000))
  return remainingBudget * perMille * BYTES_PER_PRICE_UNIT / (1000n * BigInt(Math.ceil(remainingBytes)))
}

/** Re-bid only when the new bid differs from the standing one by more than the threshold. */
export function shouldRebid (standing: bigint, proposed: bigint): boolean {
  if (standing === 0n) return proposed > 0n
  const difference = proposed > standing ? proposed - standing : standing - proposed
  return difference * 100n > standing * REBID_THRESHOLD_PERCENT
}

/**
 * Whether what a bidder has committed fits its budget: what it signed and owes (`committed`, base
 * units) plus what the data in flight will cost (Σ bytes × rate per MiB, rounded up against the
 * budget). It never signs past the budget; this tells it when to withdraw its bids first.
 */
export function withinBudget (budget: bigint, committed: bigint, inFlightByteRate: bigint): boolean {
  const inFlight = (inFlightByteRate + BYTES_PER_PRICE_UNIT - 1n) / BYTES_PER_PRICE_UNIT
  return committed + inFlight <= budget
}
