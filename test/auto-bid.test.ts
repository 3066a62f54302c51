import t from 'tap'
import { AUTO_BID_START, COOLDOWN_MS, TRIAL_MS, decideAutoBid, seederLimited, type AutoBidInput, type AutoBidState } from '../src/market/auto-bid.js'

const MiB = 1024 * 1024
const FLOOR = 16n * 10n ** 18n
const seederBound: AutoBidInput = { now: 0, target: 0, downloadRate: 1 * MiB, paidRate: 0, seedRate: 1 * MiB, onlyFromSeeds: 0.9, lowestFloor: FLOOR, ceiling: 200n * 10n ** 18n }

/** Runs the decision once a second from `state`, with `input` changed by `at(seconds)`. */
function run (seconds: number, at: (second: number, state: AutoBidState) => Partial<AutoBidInput>, from = AUTO_BID_START): AutoBidState[] {
  const states: AutoBidState[] = []
  let state = from
  for (let second = 1; second <= seconds; second++) {
    state = decideAutoBid(state, { ...seederBound, now: second * 1000, ...at(second, state) })
    states.push(state)
  }
  return states
}

t.test('auto-bid raises only while the torrent waits on seeders and is below its target', async (t) => {
  const first = decideAutoBid(AUTO_BID_START, { ...seederBound, now: 1000 })
  t.equal(first.bid, FLOOR, 'it starts at the lowest floor among the sellers')
  t.match(first.reason, /seeder-limited and no target set: raising/)
  const notSeeders = decideAutoBid(AUTO_BID_START, { ...seederBound, now: 1000, seedRate: 0, onlyFromSeeds: 0.1 })
  t.equal(notSeeders.bid, 0n, 'a swarm whose leechers have what we need: no bid')
  t.match(notSeeders.reason, /not waiting on seeders/)
  const fast = decideAutoBid(AUTO_BID_START, { ...seederBound, now: 1000, target: 512 * 1024 })
  t.equal(fast.bid, 0n, 'already at the target: no bid')
  t.equal(decideAutoBid(AUTO_BID_START, { ...seederBound, now: 1000, lowestFloor: 0n }).bid, 0n, 'nobody sells: no bid')
  t.ok(seederLimited({ downloadRate: 100, seedRate: 60, onlyFromSeeds: 0 }) && !seederLimited({ downloadRate: 100, seedRate: 10, onlyFromSeeds: 0.2 }))
})

t.test('a raise is kept only if it bought speed; one that bought nothing is undone, and no raise follows for a while', async (t) => {
  // The more it bids, the faster it goes: each raise is kept, up to the budget's ceiling.
  const helped = run(120, (_second, state) => ({ downloadRate: MiB + Number(state.bid * 1000n / FLOOR) * MiB / 1000 }))
  t.ok(helped.at(-1)!.bid > FLOOR, `raises that bought speed are kept (${helped.at(-1)!.bid})`)
  t.ok(helped.every((state) => state.bid <= seederBound.ceiling), 'never above the budget\'s ceiling')
  // Peers deliver at line rate whatever we bid: the raise buys nothing and is undone.
  const useless = run(15, () => ({ downloadRate: MiB }))
  const undone = useless[TRIAL_MS / 1000]!
  t.equal(useless[0]!.bid, FLOOR, 'it tried the floor')
  t.equal(undone.bid, 0n, 'the bid bought no speed: withdrawn')
  t.match(undone.reason, /bought no speed: back to no bid/)
  t.equal(undone.cooldownUntil, (TRIAL_MS / 1000 + 1) * 1000 + COOLDOWN_MS, 'and it waits before trying again')
  t.ok(useless.slice(TRIAL_MS / 1000).every((state) => state.bid === 0n), 'no new raise during the cool-down')
})

t.test('auto-bid withdraws the bid when peers deliver the target without paying, and keeps within the budget', async (t) => {
  const bidding: AutoBidState = { bid: 32n * 10n ** 18n, cooldownUntil: 0, reason: '', changedAt: 0 }
  const free = decideAutoBid(bidding, { ...seederBound, now: 1000, target: MiB, downloadRate: 3 * MiB, paidRate: 0 })
  t.equal(free.bid, 0n)
  t.match(free.reason, /without paying: bid withdrawn/)
  const paying = decideAutoBid(bidding, { ...seederBound, now: 1000, target: MiB, downloadRate: 1.5 * MiB, paidRate: MiB })
  t.equal(paying.bid, bidding.bid, 'at the target thanks to the bid: held')
  const poorer = decideAutoBid(bidding, { ...seederBound, now: 1000, ceiling: 20n * 10n ** 18n })
  t.equal(poorer.bid, 20n * 10n ** 18n, 'lowered to what the budget left allows')
  const broke = decideAutoBid(bidding, { ...seederBound, now: 1000, ceiling: FLOOR - 1n })
  t.equal(broke.bid, 0n, 'below the lowest floor: no bid')
  t.match(broke.reason, /cannot pay the lowest floor/)
})
