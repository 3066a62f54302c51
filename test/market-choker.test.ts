import t from 'tap'
import { bidChoker, reservedSlots } from '../src/choker/bid.js'
import { INITIAL_CHOKER_STATE, type ChokerContext, type ChokerState, type MarketSettings, type PeerSnapshot, type PeerMarketSnapshot } from '../src/choker/types.js'
import { EMPTY_LEDGER, debt, recordReceived, recordSent, standing, thresholdsFrom, totalOwed, unpaid, recordVerified, recordPaid } from '../src/accounting/ledger.js'

const MiB = 1024 * 1024
const market: MarketSettings = { floor: 10n, reservedShare: 0.25, minReservedSlots: 1, clearing: 'uniform' }

function context (now: number, overrides: Partial<ChokerContext> = {}): ChokerContext {
  return {
    now,
    seeding: true,
    settings: { slots: 4, optimisticSlots: 1, optimisticIntervalMs: 30_000, hysteresis: 0.1 },
    random: () => 0,
    market,
    ...overrides
  }
}

function peer (id: string, bid: bigint | undefined, extra: Partial<PeerSnapshot> = {}, marketExtra: Partial<PeerMarketSnapshot> = {}): PeerSnapshot {
  return {
    id,
    interested: true,
    unchoked: false,
    downloadRate: 0,
    uploadRate: 0,
    connectedAt: 0,
    snubbed: false,
    ...(bid === undefined ? {} : { market: { bid, funded: true, selfTrade: false, cutOff: false, paidSlot: false, ...marketExtra } }),
    ...extra
  }
}

t.test('reserved slots: at least one and at least the share', async (t) => {
  t.equal(reservedSlots(4, market), 1)
  t.equal(reservedSlots(8, market), 2)
  t.equal(reservedSlots(2, market), 1)
  t.equal(reservedSlots(1, market), 1, 'a single slot is never sold')
  t.equal(reservedSlots(10, { ...market, reservedShare: 0.5 }), 5)
})

t.test('paid slots go to the highest bids at or above the floor; the clearing price is the highest losing bid', async (t) => {
  const peers = [peer('a', 40n), peer('b', 30n), peer('c', 20n), peer('d', 15n), peer('e', 5n), peer('free1', undefined, { uploadRate: 100 }), peer('free2', undefined)]
  const decision = bidChoker(peers, INITIAL_CHOKER_STATE, context(0))
  t.equal(decision.paidSlots, 3, '4 slots, 1 reserved')
  t.same([...decision.unchoke].filter(([, kind]) => kind === 'paid').map(([id]) => id).sort(), ['a', 'b', 'c'])
  t.same(decision.quotes!.get('a'), { rate: 15n, rank: 1 }, 'winners pay the highest losing bid')
  t.same(decision.quotes!.get('c'), { rate: 15n, rank: 3 })
  t.same(decision.quotes!.get('d'), { rate: 0n, rank: 4 }, 'the best loser is ranked and pays nothing')
  t.notOk(decision.quotes!.has('e'), 'a bid below the floor is not ranked')
  t.equal(decision.unchoke.get('free1'), 'regular', 'the reserved slot goes to a non-bidder, by reciprocity')
  t.notOk(decision.unchoke.has('d') && decision.unchoke.get('d') === 'regular', 'not to the losing bidder while non-bidders want it')
  const optimistic = [...decision.unchoke].filter(([, kind]) => kind === 'optimistic').map(([id]) => id)
  t.equal(optimistic.length, 1, 'one optimistic unchoke, not sold')
  t.notOk(['a', 'b', 'c', 'free1'].includes(optimistic[0]!))
})

t.test('with no losing bid winners pay the floor; pay-as-bid charges each its own bid', async (t) => {
  const peers = [peer('a', 40n), peer('b', 12n), peer('free', undefined)]
  const uniform = bidChoker(peers, INITIAL_CHOKER_STATE, context(0))
  t.same(uniform.quotes!.get('a'), { rate: 10n, rank: 1 })
  t.same(uniform.quotes!.get('b'), { rate: 10n, rank: 2 })
  const asBid = bidChoker(peers, INITIAL_CHOKER_STATE, context(0, { market: { ...market, clearing: 'pay-as-bid' } }))
  t.same(asBid.quotes!.get('a'), { rate: 40n, rank: 1 })
  t.same(asBid.quotes!.get('b'), { rate: 12n, rank: 2 })
})

t.test('paid slots nobody bid for go to free peers; free peers keep the reserved share when bidders abound', async (t) => {
  const few = bidChoker([peer('a', 50n), peer('f1', undefined), peer('f2', undefined), peer('f3', undefined)], INITIAL_CHOKER_STATE, context(0))
  t.same([...few.unchoke.values()].filter((kind) => kind === 'regular').length, 3, 'three free peers in the unused slots')
  const many = bidChoker([...Array.from({ length: 10 }, (_, i) => peer(`b${i}`, BigInt(100 + i))), peer('free', undefined)], INITIAL_CHOKER_STATE, context(0))
  t.equal(many.unchoke.get('free'), 'regular', 'the free peer holds the reserved slot against ten bidders')
})

t.test('unfunded, self-trading and cut-off peers win nothing; a cut-off peer gets no slot at all', async (t) => {
  const peers = [
    peer('unfunded', 100n, {}, { funded: false }),
    peer('self', 100n, {}, { selfTrade: true }),
    peer('cut', 100n, {}, { cutOff: true }),
    peer('honest', 20n)
  ]
  const decision = bidChoker(peers, INITIAL_CHOKER_STATE, context(0))
  t.same([...decision.quotes!.keys()], ['honest'], 'only the honest bidder is ranked')
  t.equal(decision.quotes!.get('honest')!.rate, 10n)
  t.notOk(decision.unchoke.has('cut'), 'the cut-off peer stays choked')
  t.ok(decision.unchoke.get('self') !== 'paid' && decision.unchoke.get('unfunded') !== 'paid')
})

t.test('without market settings it is the standard choker', async (t) => {
  const decision = bidChoker([peer('a', 100n), peer('b', undefined)], INITIAL_CHOKER_STATE, context(0, { market: undefined }))
  t.notOk(decision.quotes)
  t.ok([...decision.unchoke.values()].every((kind) => kind !== 'paid'))
})

t.test('no fibrillation: near-equal bids do not trade a slot, a clear outbid does at once', async (t) => {
  let state: ChokerState = INITIAL_CHOKER_STATE
  let holders = new Set<string>()
  const bids: Record<string, bigint> = { a: 100n, b: 100n, c: 100n, d: 100n }
  const snapshot = (): PeerSnapshot[] => Object.entries(bids).map(([id, bid]) => peer(id, bid, { unchoked: holders.has(id) }, { paidSlot: holders.has(id) }))
  const changes: number[] = []
  for (let tick = 0; tick < 200; tick++) {
    // Bids wobble by up to 5%, inside the 10% hysteresis.
    for (const id of Object.keys(bids)) bids[id] = 100n + BigInt((tick * 7 + id.charCodeAt(0) * 13) % 6)
    const decision = bidChoker(snapshot(), state, context(tick * 10_000))
    state = decision.state
    const next = new Set([...decision.unchoke].filter(([, kind]) => kind === 'paid').map(([id]) => id))
    changes.push([...next].filter((id) => !holders.has(id)).length)
    holders = next
  }
  t.equal(changes.slice(1).reduce((sum, n) => sum + n, 0), 0, 'the paid slots never changed hands after the first rechoke')
  const loser = Object.keys(bids).find((id) => !holders.has(id))!
  bids[loser] = 200n
  const decision = bidChoker(snapshot(), state, context(2_000_001))
  t.equal(decision.unchoke.get(loser), 'paid', 'a bid that clearly beats an incumbent takes a slot at the next rechoke')
  t.equal(decision.quotes!.get(loser)!.rank, 1)
})

t.test('ledger: exact owed amounts, payments, debt thresholds', async (t) => {
  let buyer = EMPTY_LEDGER
  // Three pieces at two rates: 1 MiB at 3, 0.5 MiB at 3, 1 MiB at 7 → 3 + 1.5 + 7 = 11.5 → 11 base units.
  buyer = recordVerified(buyer, MiB, 3n)
  buyer = recordVerified(buyer, MiB / 2, 3n)
  buyer = recordVerified(buyer, MiB, 7n)
  t.equal(totalOwed(buyer), 11n, 'rounded once, on the cumulative total')
  buyer = recordPaid(buyer, 11n)
  t.equal(unpaid(buyer), 0n)
  buyer = recordVerified(buyer, MiB / 2, 3n)
  t.equal(totalOwed(buyer), 13n, 'the half base unit carried over')
  t.throws(() => recordPaid(buyer, 5n), 'a cumulative amount never goes down')
  t.throws(() => recordVerified(buyer, -1, 3n))
  t.throws(() => recordVerified(buyer, 1, -3n))

  const thresholds = thresholdsFrom(100n)
  t.same(thresholds, { payment: 100n, disconnect: 125n }, 'disconnect = payment + 25%')
  t.throws(() => thresholdsFrom(0n))
  let seller = EMPTY_LEDGER
  seller = recordSent(seller, 99 * MiB, 1n)
  t.equal(standing(seller, thresholds), 'clear')
  seller = recordSent(seller, MiB, 1n)
  t.equal(standing(seller, thresholds), 'payment-due')
  seller = recordSent(seller, 26 * MiB, 1n)
  t.equal(standing(seller, thresholds), 'cut-off')
  seller = recordReceived(seller, 100n)
  t.equal(debt(seller), 26n)
  t.equal(standing(seller, thresholds), 'clear')
  t.equal(recordReceived(seller, 50n), seller, 'an older, smaller voucher changes nothing')
})

t.test('the debt thresholds never give a bidder less credit than the data in flight at its rate', async (t) => {
  const { thresholdsAtRate } = await import('../src/accounting/ledger.js')
  const configured = thresholdsFrom(1000n, 25)
  t.equal(thresholdsAtRate(configured, 10n, 8 * MiB), configured, 'a cheap rate keeps the configured thresholds')
  const raised = thresholdsAtRate(configured, 1000n, 8 * MiB)
  t.same(raised, { payment: 8000n, disconnect: 10_000n }, 'an expensive one is raised to 8 MiB worth, the tolerance scaled along')
})

t.test('a channel continues from its stored voucher: only what is verified or sent from then on is new', async (t) => {
  const { continuePaid, continueReceived } = await import('../src/accounting/ledger.js')
  // 3 MiB verified at 7 a MiB while the stored voucher (for 40) was still being read.
  const buyer = continuePaid(recordVerified(EMPTY_LEDGER, 3 * MiB, 7n), 40n)
  t.equal(buyer.paid, 40n)
  t.equal(totalOwed(buyer), 61n, 'the stored 40 plus the 21 verified since')
  t.equal(unpaid(buyer), 21n, 'the next voucher pays only the new bytes')
  const seller = continueReceived(recordSent(EMPTY_LEDGER, MiB, 10n), 40n)
  t.equal(seller.received, 40n)
  t.equal(debt(seller), 10n, 'the stored voucher settles what came before it; the new MiB is owed')
})

t.test('auto-bid follows the whitepaper and re-bids only on a move of more than 10%', async (t) => {
  const { autoBid, shouldRebid, withinBudget } = await import('../src/market/bidding.js')
  t.equal(autoBid(1, 1000n, 10 * MiB), 100n, 'the whole budget over 10 MiB = 100 a MiB')
  t.equal(autoBid(0.5, 1000n, 10 * MiB), 50n, 'half the spending rate, half the bid')
  t.equal(autoBid(1, 0n, 10 * MiB), 0n, 'no budget, no bid')
  t.equal(autoBid(1, 1000n, 0), 0n, 'nothing left to download, no bid')
  t.throws(() => autoBid(1.5, 1000n, MiB))
  t.notOk(shouldRebid(100n, 109n), '9% up: keep the bid')
  t.notOk(shouldRebid(100n, 90n), '10% down: keep the bid')
  t.ok(shouldRebid(100n, 111n), '11% up: re-bid')
  t.ok(shouldRebid(0n, 5n), 'a first bid')
  t.ok(withinBudget(100n, 90n, BigInt(10 * MiB) * 1n), 'exactly the budget: 10 MiB in flight at 1 a MiB')
  t.notOk(withinBudget(100n, 91n, BigInt(10 * MiB) * 1n), 'one base unit over')
  t.notOk(withinBudget(100n, 100n, 1n), 'a partial MiB in flight rounds up against the budget')
  t.ok(withinBudget(100n, 100n, 0n), 'nothing in flight: the whole budget may be signed')
})
