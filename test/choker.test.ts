import t from 'tap'
import { standardChoker } from '../src/choker/standard.js'
import { INITIAL_CHOKER_STATE, type ChokerContext, type ChokerState, type PeerSnapshot } from '../src/choker/types.js'

const MiB = 1024 * 1024
const settings = { slots: 3, optimisticSlots: 1, optimisticIntervalMs: 30_000, hysteresis: 0.1 }

function peer (id: string, downloadRate: number, extra: Partial<PeerSnapshot> = {}): PeerSnapshot {
  return { id, interested: true, unchoked: false, downloadRate, uploadRate: 0, connectedAt: 0, snubbed: false, ...extra }
}

/** A deterministic stand-in for Math.random. */
function sequence (...values: number[]): () => number {
  let i = 0
  return () => values[i++ % values.length]!
}

function context (now: number, overrides: Partial<ChokerContext> = {}): ChokerContext {
  return { now, seeding: false, settings, random: sequence(0), ...overrides }
}

function regular (unchoke: ReadonlyMap<string, string>): string[] {
  return [...unchoke].filter(([, kind]) => kind === 'regular').map(([id]) => id).sort()
}

t.test('regular slots go to the peers that send us the most', async (t) => {
  const peers = [peer('slow', 1 * MiB), peer('fast', 9 * MiB), peer('mid', 5 * MiB), peer('faster', 7 * MiB), peer('idle', 0)]
  const { unchoke } = standardChoker(peers, INITIAL_CHOKER_STATE, context(100_000))
  t.same(regular(unchoke), ['fast', 'faster', 'mid'])
  t.equal(unchoke.size, 4, 'three regular slots and one optimistic')
  const optimistic = [...unchoke].find(([, kind]) => kind === 'optimistic')![0]
  t.ok(['slow', 'idle'].includes(optimistic), 'the optimistic slot goes to a peer without a regular slot')
})

t.test('peers that are not interested get no slot; snubbing peers rank last while leeching', async (t) => {
  const peers = [
    peer('uninterested', 50 * MiB, { interested: false }),
    peer('snubber', 40 * MiB, { snubbed: true }),
    peer('a', 1 * MiB), peer('b', 2 * MiB), peer('c', 3 * MiB)
  ]
  const { unchoke } = standardChoker(peers, INITIAL_CHOKER_STATE, context(0))
  t.notOk(unchoke.has('uninterested'))
  t.same(regular(unchoke), ['a', 'b', 'c'])
})

t.test('while seeding, slots go by what we upload to each peer', async (t) => {
  const peers = [
    peer('gives-us-a-lot', 50 * MiB, { uploadRate: 1 * MiB }),
    peer('x', 0, { uploadRate: 8 * MiB }), peer('y', 0, { uploadRate: 6 * MiB }), peer('z', 0, { uploadRate: 4 * MiB })
  ]
  const { unchoke } = standardChoker(peers, INITIAL_CHOKER_STATE, context(0, { seeding: true }))
  t.same(regular(unchoke), ['x', 'y', 'z'])
})

t.test('the optimistic unchoke holds for its interval, then rotates to another peer', async (t) => {
  const peers = [peer('a', 9 * MiB), peer('b', 8 * MiB), peer('c', 7 * MiB), peer('d', 0), peer('e', 0), peer('f', 0)]
  const optimisticOf = (state: ChokerState): string => state.optimistic[0]!
  let state = standardChoker(peers, INITIAL_CHOKER_STATE, context(0, { random: sequence(0) })).state
  const first = optimisticOf(state)
  t.ok(['d', 'e', 'f'].includes(first))
  // Ten seconds later (a normal rechoke) the optimistic peer keeps its slot whatever random says.
  state = standardChoker(peers, state, context(10_000, { random: sequence(0.99) })).state
  t.equal(optimisticOf(state), first, 'kept within the interval')
  state = standardChoker(peers, state, context(20_000, { random: sequence(0.5) })).state
  t.equal(optimisticOf(state), first, 'still kept')
  // Past 30 s it rotates, never to the same peer while others wait.
  const seen = new Set([first])
  let now = 30_000
  for (let round = 0; round < 2; round++, now += 30_000) {
    const previous = optimisticOf(state)
    state = standardChoker(peers, state, context(now, { random: sequence(0) })).state
    t.not(optimisticOf(state), previous, `rotation ${round + 1} picks a different peer`)
    seen.add(optimisticOf(state))
  }
  t.same([...seen].sort(), ['d', 'e', 'f'], 'every choked peer gets its turn')
})

t.test('newcomers are favoured for the optimistic slot (three times the weight)', async (t) => {
  const now = 1_000_000
  const peers = [
    peer('a', 9 * MiB), peer('b', 8 * MiB), peer('c', 7 * MiB),
    peer('old', 0, { connectedAt: 0 }), peer('new', 0, { connectedAt: now - 5_000 })
  ]
  // Weights: old = 1, new = 3; a draw of 0.3 of the total (4) lands on "new" only because of its weight.
  const { state } = standardChoker(peers, INITIAL_CHOKER_STATE, context(now, { random: sequence(0.3) }))
  t.same(state.optimistic, ['new'])
})

t.test('no fibrillation: near-equal peers do not trade slots on every rechoke', async (t) => {
  // "challenger" is 5% faster than the incumbent: within the 10% hysteresis, so nothing changes.
  const incumbent = peer('incumbent', 10 * MiB, { unchoked: true })
  const challenger = peer('challenger', 10.5 * MiB)
  const others = [peer('a', 50 * MiB, { unchoked: true }), peer('b', 40 * MiB, { unchoked: true })]
  let state = INITIAL_CHOKER_STATE
  for (let round = 0; round < 5; round++) {
    const decision = standardChoker([...others, incumbent, challenger], state, context(round * 10_000, { settings: { ...settings, optimisticSlots: 0 } }))
    state = decision.state
    t.same(regular(decision.unchoke), ['a', 'b', 'incumbent'], `round ${round}: the incumbent keeps its slot`)
  }
  // A clearly faster challenger (20%) does take the slot.
  const decision = standardChoker([...others, incumbent, peer('challenger', 12 * MiB)], state, context(60_000, { settings: { ...settings, optimisticSlots: 0 } }))
  t.same(regular(decision.unchoke), ['a', 'b', 'challenger'])
})

t.test('the same snapshot always gives the same decision (pure and deterministic)', async (t) => {
  const peers = [peer('a', 3), peer('b', 3), peer('c', 3), peer('d', 3), peer('e', 3)]
  const first = standardChoker(peers, INITIAL_CHOKER_STATE, context(5, { random: sequence(0.4) }))
  const second = standardChoker([...peers].reverse(), INITIAL_CHOKER_STATE, context(5, { random: sequence(0.4) }))
  t.same([...first.unchoke].sort(), [...second.unchoke].sort())
  t.same(regular(first.unchoke), ['a', 'b', 'c'], 'ties break by connection time, then id')
})

t.test('fewer interested peers than slots: everyone is unchoked', async (t) => {
  const { unchoke } = standardChoker([peer('a', 0), peer('b', 0)], INITIAL_CHOKER_STATE, context(0))
  t.same([...unchoke.keys()].sort(), ['a', 'b'])
})
