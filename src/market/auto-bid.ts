import { readablePrice } from '../money/price.js'

/**
 * Auto-bid that pays only when paying helps: a pure decision, once a second, over what the torrent
 * sees. It raises the bid only while the download is limited by the seeders and slower than the
 * user's target, keeps a raise only if it bought speed, and withdraws the bid when the bid buys no
 * speed (the swarm's peers deliver without it). It never bids past the BTT whitepaper's auto-bid
 * (bidding.ts: spending rate × budget left / MiB left), so the budget lasts the download.
 */

/** How long a new bid is given to show what it buys (the seller rechokes on a bid; rates settle in seconds). */
export const TRIAL_MS = 10_000
/** A raise that did not lift the rate by this share bought nothing. */
export const GAIN_PERCENT = 10
/** After a raise that bought nothing, no new raise for this long. */
export const COOLDOWN_MS = 60_000
/** Each raise multiplies the bid by this (in thousandths). */
const RAISE_PER_MILLE = 1500n

export interface AutoBidInput {
  readonly now: number
  /** Bytes per second the user wants (0: as fast as the budget allows). */
  readonly target: number
  /** The torrent's download rate, and the parts of it that come from paid slots and from seeds. */
  readonly downloadRate: number
  readonly paidRate: number
  readonly seedRate: number
  /** Of the pieces still missing, the share that only seeds among our peers have. */
  readonly onlyFromSeeds: number
  /** The lowest floor among connected sellers (0: none sells). */
  readonly lowestFloor: bigint
  /** The most the budget allows per MiB (the whitepaper's rule). */
  readonly ceiling: bigint
}

export interface AutoBidState {
  readonly bid: bigint
  /** The bid before the last raise, the rate then, and when the raise was made. */
  readonly trial?: { readonly previous: bigint, readonly rateBefore: number, readonly at: number }
  readonly cooldownUntil: number
  readonly reason: string
  readonly changedAt: number
}

export const AUTO_BID_START: AutoBidState = { bid: 0n, cooldownUntil: 0, reason: 'not started', changedAt: 0 }

/** Whether the download waits on the seeders: most of it comes from them, or most of what is missing only they have. */
export function seederLimited (input: Pick<AutoBidInput, 'downloadRate' | 'seedRate' | 'onlyFromSeeds'>): boolean {
  return input.onlyFromSeeds >= 0.5 || (input.downloadRate > 0 && input.seedRate >= input.downloadRate / 2)
}

function raised (bid: bigint, floor: bigint, ceiling: bigint): bigint {
  const next = bid === 0n ? floor : bid * RAISE_PER_MILLE / 1000n
  return next > ceiling ? ceiling : next
}

export function decideAutoBid (state: AutoBidState, input: AutoBidInput): AutoBidState {
  const change = (bid: bigint, reason: string, extra: Partial<AutoBidState> = {}): AutoBidState =>
    ({ bid, reason, changedAt: bid === state.bid ? state.changedAt : input.now, cooldownUntil: state.cooldownUntil, ...extra })
  const keep = (reason: string): AutoBidState => ({ ...state, reason })

  if (input.lowestFloor === 0n) return change(0n, 'no connected peer sells this torrent')
  if (input.ceiling < input.lowestFloor) return change(0n, 'the budget left cannot pay the lowest floor for the rest of the download')
  if (state.bid > input.ceiling) return change(input.ceiling, 'lowered to what the budget left allows for the rest')

  // A raise on trial: keep it if it bought speed, else go back and wait before trying again.
  if (state.trial) {
    if (input.now - state.trial.at < TRIAL_MS) return keep(`trying ${readablePrice(state.bid)}`)
    const gained = input.downloadRate * 100 >= state.trial.rateBefore * (100 + GAIN_PERCENT)
    if (gained) return { ...state, trial: undefined, reason: `the raise to ${readablePrice(state.bid)} bought speed` }
    return change(state.trial.previous, `the raise to ${readablePrice(state.bid)} bought no speed: back to ${state.trial.previous === 0n ? 'no bid' : readablePrice(state.trial.previous)}`, { trial: undefined, cooldownUntil: input.now + COOLDOWN_MS })
  }

  const fastEnough = input.target > 0 && input.downloadRate >= input.target
  if (fastEnough) {
    // Peers that do not charge deliver the target on their own: the bid buys nothing.
    if (state.bid > 0n && input.downloadRate - input.paidRate >= input.target) return change(0n, 'peers deliver the target without paying: bid withdrawn')
    return keep(state.bid > 0n ? 'at the target: holding the bid' : 'at the target without paying')
  }
  if (!seederLimited(input)) {
    if (state.bid > 0n && input.paidRate < input.downloadRate / 10) return change(0n, 'the swarm delivers without the seeders: bid withdrawn')
    return keep('the swarm is not waiting on seeders: not raising')
  }
  if (input.now < state.cooldownUntil) return keep('a raise bought no speed lately: waiting before trying again')
  const next = raised(state.bid, input.lowestFloor, input.ceiling)
  if (next <= state.bid) return keep('at the most the budget allows')
  return change(next, `seeder-limited and ${input.target > 0 ? 'below the target' : 'no target set'}: raising to ${readablePrice(next)}`, { trial: { previous: state.bid, rateBefore: input.downloadRate, at: input.now } })
}

