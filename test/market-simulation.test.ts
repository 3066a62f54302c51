import t from 'tap'
import { EMPTY_LEDGER, recordVerified, totalOwed, type PeerLedger } from '../src/accounting/ledger.js'
import { bidChoker } from '../src/choker/bid.js'
import { INITIAL_CHOKER_STATE, type ChokerContext, type ChokerState, type PeerSnapshot, type SlotKind } from '../src/choker/types.js'
import { shareUpload } from '../src/choker/bandwidth.js'
import { BYTES_PER_PRICE_UNIT } from '../src/money/price.js'

const MiB = 1024 * 1024

t.test('bandwidth shares: the free class keeps its share, and nothing is left idle', async (t) => {
  const rates = shareUpload(100, [
    { id: 'paid', kind: 'paid', demand: 1000 },
    { id: 'free', kind: 'regular', demand: 1000 },
    { id: 'optimistic', kind: 'optimistic', demand: 1000 }
  ], 0.25)
  t.same(Object.fromEntries(rates), { paid: 75, free: 12.5, optimistic: 12.5 })
  const slowBidder = shareUpload(100, [{ id: 'paid', kind: 'paid', demand: 10 }, { id: 'free', kind: 'regular', demand: 1000 }], 0.25)
  t.same(Object.fromEntries(slowBidder), { paid: 10, free: 90 }, 'what the paid class cannot use goes to free peers')
  t.same(Object.fromEntries(shareUpload(100, [{ id: 'free', kind: 'regular', demand: 1000 }], 0.25)), { free: 100 }, 'no bidders: full speed')
})

t.test('paid bandwidth goes to the highest rate first; equal rates share; the free class keeps its share whatever the bids', async (t) => {
  const peers = [
    { id: 'bid-4x', kind: 'paid' as const, demand: 1000, rate: 400n },
    { id: 'bid-2x', kind: 'paid' as const, demand: 1000, rate: 200n },
    { id: 'bid-1x', kind: 'paid' as const, demand: 1000, rate: 100n },
    { id: 'free', kind: 'regular' as const, demand: 1000 }
  ]
  t.same(Object.fromEntries(shareUpload(100, peers, 0.25)), { 'bid-4x': 75, 'bid-2x': 0, 'bid-1x': 0, free: 25 }, 'the top bid takes the paid class while it can use it')
  const topSlow = peers.map((peer) => (peer.id === 'bid-4x' ? { ...peer, demand: 30 } : peer))
  t.same(Object.fromEntries(shareUpload(100, topSlow, 0.25)), { 'bid-4x': 30, 'bid-2x': 45, 'bid-1x': 0, free: 25 }, 'what it cannot take goes to the next rate down')
  const uniform = shareUpload(90, [{ id: 'a', kind: 'paid', demand: 1000, rate: 100n }, { id: 'b', kind: 'paid', demand: 1000, rate: 100n }, { id: 'free', kind: 'optimistic', demand: 1000 }], 0.25)
  t.same(Object.fromEntries(uniform), { a: 33.75, b: 33.75, free: 22.5 }, 'equal rates (a uniform price) are served alike')
  const paidOnly = shareUpload(100, [{ id: 'a', kind: 'paid', demand: 1000, rate: 100n }], 0.25)
  t.same(Object.fromEntries(paidOnly), { a: 100 }, 'no free peer: the bidder gets it all')
})

/**
 * One capped seller and four downloaders bidding 0, 1, 2 and 4 (base units per MiB), on a virtual
 * clock: the real choker ranks them, the seller's rate is split by the real bandwidth rule, every
 * MiB piece is verified when its last byte arrives and paid through the real ledger.
 */
t.test('a deterministic swarm: bid order is completion order, the free peer keeps downloading, payments are exact', async (t) => {
  const capacity = 10 * MiB
  const size = 40 * MiB
  const step = 0.1
  const bids: Record<string, bigint> = { free: 0n, b1: 1n, b2: 2n, b4: 4n }
  const ids = Object.keys(bids)
  const context = (now: number): ChokerContext => ({
    now,
    seeding: true,
    settings: { slots: 2, optimisticSlots: 1, optimisticIntervalMs: 30_000, hysteresis: 0.1 },
    random: () => 0.5,
    market: { floor: 1n, reservedShare: 0.25, minReservedSlots: 1, clearing: 'uniform' }
  })
  const received = new Map(ids.map((id) => [id, 0]))
  /** Bytes of each peer's current piece, by the rate in force when they arrived. */
  const pieceParts = new Map(ids.map((id) => [id, new Map<bigint, number>()]))
  const independentCharge = new Map(ids.map((id) => [id, 0n]))
  const ledgers = new Map<string, PeerLedger>(ids.map((id) => [id, EMPTY_LEDGER]))
  const doneAt = new Map<string, number>()
  const freeClassShare: number[] = []
  let freeStarved = 0
  let slots = new Map<string, SlotKind>()
  let rates = new Map<string, bigint>()
  let state: ChokerState = INITIAL_CHOKER_STATE
  let lastRechoke = -Infinity
  let interestedBefore = ids.length

  for (let tick = 0; doneAt.size < ids.length && tick < 100_000; tick++) {
    const now = tick * step * 1000
    const interested = ids.filter((id) => !doneAt.has(id))
    if (now - lastRechoke >= 10_000 || interested.length !== interestedBefore) {
      const snapshots: PeerSnapshot[] = ids.map((id) => ({
        id,
        interested: !doneAt.has(id),
        unchoked: slots.has(id),
        downloadRate: 0,
        uploadRate: 0,
        connectedAt: 0,
        snubbed: false,
        market: { bid: bids[id]!, funded: true, selfTrade: false, cutOff: false, paidSlot: slots.get(id) === 'paid' }
      }))
      const decision = bidChoker(snapshots, state, context(now))
      state = decision.state
      slots = new Map(decision.unchoke)
      rates = new Map(ids.map((id) => [id, slots.get(id) === 'paid' ? decision.quotes?.get(id)?.rate ?? 0n : 0n]))
      lastRechoke = now
      interestedBefore = interested.length
    }
    // A peer takes at most what finishes it within this step.
    const share = shareUpload(capacity, [...slots].map(([id, kind]) => ({ id, kind, demand: (size - received.get(id)!) / step })), 0.25)
    const contested = [...slots.values()].includes('paid') && interested.includes('free')
    if (contested) {
      const freeClass = [...slots].filter(([, kind]) => kind !== 'paid').reduce((sum, [id]) => sum + (share.get(id) ?? 0), 0)
      freeClassShare.push(freeClass / capacity)
      if ((share.get('free') ?? 0) === 0) freeStarved++
    }
    for (const [id, rate] of share) {
      const bytes = Math.min(Math.round(rate * step), size - received.get(id)!)
      if (bytes <= 0) continue
      const before = received.get(id)!
      const after = before + bytes
      const price = rates.get(id) ?? 0n
      independentCharge.set(id, independentCharge.get(id)! + BigInt(bytes) * price)
      // Pieces are 1 MiB: bytes count toward the piece they land in; a piece is paid when complete.
      let cursor = before
      while (cursor < after) {
        const pieceEnd = (Math.floor(cursor / MiB) + 1) * MiB
        const chunk = Math.min(after, pieceEnd) - cursor
        const parts = pieceParts.get(id)!
        parts.set(price, (parts.get(price) ?? 0) + chunk)
        cursor += chunk
        if (cursor === pieceEnd || cursor === size) {
          // The whole piece verified: its bytes are owed at the rates they arrived at, as the engine does.
          let ledger = ledgers.get(id)!
          for (const [rate, bytes] of parts) ledger = recordVerified(ledger, bytes, rate)
          ledgers.set(id, ledger)
          parts.clear()
        }
      }
      received.set(id, after)
      if (after >= size && !doneAt.has(id)) doneAt.set(id, now / 1000 + step)
    }
  }

  const order = [...doneAt].sort((a, b) => a[1] - b[1]).map(([id]) => id)
  t.same(order, ['b4', 'b2', 'b1', 'free'], 'completion order follows bid order')
  t.ok(doneAt.get('free')! >= 2 * doneAt.get('b4')!, `the top bidder finishes at least twice as fast as the free peer (${doneAt.get('b4')!.toFixed(1)} s against ${doneAt.get('free')!.toFixed(1)} s)`)
  t.equal(freeStarved, 0, 'the free peer downloads at every step while bidders compete')
  t.ok(Math.min(...freeClassShare) >= 0.25 - 1e-9, `the free class always had at least the reserved 25% (lowest ${(Math.min(...freeClassShare) * 100).toFixed(1)}%)`)
  for (const id of ids) {
    const expected = independentCharge.get(id)! / BYTES_PER_PRICE_UNIT
    t.equal(totalOwed(ledgers.get(id)!), expected, `${id}: payment = verified bytes x agreed rate, exactly (${expected} base units)`)
  }
  t.equal(totalOwed(ledgers.get('free')!), 0n, 'the free peer paid nothing')
  t.ok(totalOwed(ledgers.get('b4')!) > 0n, 'the top bidder paid')
})
