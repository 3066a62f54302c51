import type { Choker, ChokerContext, ChokerState, PeerSnapshot, SlotKind } from './types.js'

/** Peers connected this recently are three times as likely to get the optimistic slot (they have nothing to trade yet). */
const NEWCOMER_WINDOW_MS = 60_000
const NEWCOMER_WEIGHT = 3

/**
 * BEP 3 choking: the fastest interested peers get the regular slots (by what they send us while we
 * download, by what we send them while we seed), and one rotating optimistic unchoke gives everybody else a chance.
 */
export const standardChoker: Choker = (peers, state, context) => {
  const { settings } = context
  const candidates = peers.filter((peer) => peer.interested)
  const regular = rankByRate(candidates, context).slice(0, settings.slots)
  const regularIds = new Set(regular.map((peer) => peer.id))
  const optimisticState = chooseOptimistic(candidates.filter((peer) => !regularIds.has(peer.id)), state, context)

  const unchoke = new Map<string, SlotKind>()
  for (const peer of regular) unchoke.set(peer.id, 'regular')
  for (const id of optimisticState.optimistic) unchoke.set(id, 'optimistic')
  return { unchoke, state: optimisticState }
}

/** Orders peers best first; pure, stable and deterministic for a given snapshot. */
export function rankByRate (peers: readonly PeerSnapshot[], context: Pick<ChokerContext, 'seeding' | 'settings'>): PeerSnapshot[] {
  const score = (peer: PeerSnapshot): number => {
    const rate = context.seeding ? peer.uploadRate : peer.downloadRate
    // Snubbing peers drop to the bottom while leeching: they hold a slot and give nothing.
    const snubPenalty = !context.seeding && peer.snubbed ? 0 : 1
    const incumbentBonus = peer.unchoked ? 1 + context.settings.hysteresis : 1
    return rate * incumbentBonus * snubPenalty
  }
  return [...peers]
    .map((peer) => ({ peer, score: score(peer) }))
    .sort((a, b) =>
      b.score - a.score ||
      Number(b.peer.unchoked) - Number(a.peer.unchoked) ||
      a.peer.connectedAt - b.peer.connectedAt ||
      (a.peer.id < b.peer.id ? -1 : a.peer.id > b.peer.id ? 1 : 0))
    .map(({ peer }) => peer)
}

export function chooseOptimistic (eligible: readonly PeerSnapshot[], state: ChokerState, context: ChokerContext): ChokerState {
  const { settings, now } = context
  const eligibleIds = new Set(eligible.map((peer) => peer.id))
  const kept = state.optimistic.filter((id) => eligibleIds.has(id))
  const due = now - state.optimisticSince >= settings.optimisticIntervalMs
  if (!due && kept.length >= Math.min(settings.optimisticSlots, eligible.length)) {
    return { ...state, optimistic: kept.slice(0, settings.optimisticSlots) }
  }

  // Whoever has waited longest since their last optimistic slot goes first (never = longest);
  // among equals, a weighted draw that favours newcomers.
  const lastOptimistic = (id: string): number => state.lastOptimistic[id] ?? -Infinity
  const pool = [...eligible].sort((a, b) => lastOptimistic(a.id) - lastOptimistic(b.id) || (a.id < b.id ? -1 : 1))
  const chosen: string[] = []
  while (chosen.length < settings.optimisticSlots && pool.length > 0) {
    const oldest = lastOptimistic(pool[0]!.id)
    const tied = pool.filter((peer) => lastOptimistic(peer.id) === oldest)
    const pick = tied[weightedPick(tied, now, context.random)]!
    chosen.push(pick.id)
    pool.splice(pool.indexOf(pick), 1)
  }
  const history: Record<string, number> = {}
  for (const peer of eligible) if (state.lastOptimistic[peer.id] !== undefined) history[peer.id] = state.lastOptimistic[peer.id]!
  for (const id of kept) history[id] = state.lastOptimistic[id] ?? now
  for (const id of chosen) history[id] = now
  return { optimistic: chosen, optimisticSince: now, lastOptimistic: history }
}

function weightedPick (pool: readonly PeerSnapshot[], now: number, random: () => number): number {
  const weights = pool.map((peer) => (now - peer.connectedAt < NEWCOMER_WINDOW_MS ? NEWCOMER_WEIGHT : 1))
  const total = weights.reduce((sum, weight) => sum + weight, 0)
  let target = random() * total
  for (let i = 0; i < weights.length; i++) {
    target -= weights[i]!
    if (target < 0) return i
  }
  return pool.length - 1
}
