import type { SlotKind } from './types.js'

export interface UploadDemand {
  readonly id: string
  readonly kind: SlotKind
  /** Bytes per second the peer can take (its own download capacity, or what it has asked for). */
  readonly demand: number
  /** A paid slot's rate, base units per MiB: paid bandwidth is served highest rate first. */
  readonly rate?: bigint
}

/** Equal shares of `capacity` among `peers`, none above its demand, leftovers passed on (water-filling). */
function fill (capacity: number, peers: readonly UploadDemand[], into: Map<string, number>): number {
  const need = (peer: UploadDemand): number => peer.demand - (into.get(peer.id) ?? 0)
  let left = capacity
  let open = peers.filter((peer) => need(peer) > 0).sort((a, b) => need(a) - need(b))
  while (open.length > 0 && left > 1e-9) {
    const share = left / open.length
    const smallest = open[0]!
    const wanted = need(smallest)
    if (wanted <= share) {
      into.set(smallest.id, smallest.demand)
      left -= wanted
      open = open.slice(1)
    } else {
      for (const peer of open) into.set(peer.id, (into.get(peer.id) ?? 0) + share)
      left = 0
    }
  }
  return left
}

/**
 * The paid class's capacity, highest rate first: every byte a seller sells goes to the best price
 * that still wants one, and equal rates share equally (so under a uniform price every winner is
 * served alike). This is what a bid buys: the seller's paid bandwidth before any lower bid.
 */
function fillByRate (capacity: number, peers: readonly UploadDemand[], into: Map<string, number>): number {
  const levels = new Map<bigint, UploadDemand[]>()
  for (const peer of peers) {
    const rate = peer.rate ?? 0n
    const level = levels.get(rate)
    if (level) level.push(peer)
    else levels.set(rate, [peer])
  }
  let left = capacity
  for (const rate of [...levels.keys()].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))) {
    if (left <= 1e-9) break
    left = fill(left, levels.get(rate)!, into)
  }
  return left
}

/**
 * How a capped seller splits its upload rate among unchoked peers: the free class (regular and
 * optimistic slots, never sold) gets `reservedShare` of it in equal shares, and the paid slots the
 * rest, highest rate first. Work-conserving: what one class cannot use goes to the other, so a
 * seller with no bidders serves free peers at full speed, and bidders never leave capacity idle.
 */
export function shareUpload (capacity: number, peers: readonly UploadDemand[], reservedShare: number): Map<string, number> {
  const rates = new Map<string, number>(peers.map((peer) => [peer.id, 0]))
  const paid = peers.filter((peer) => peer.kind === 'paid')
  const free = peers.filter((peer) => peer.kind !== 'paid')
  const freeBudget = paid.length === 0 ? capacity : free.length === 0 ? 0 : capacity * reservedShare
  const freeLeft = fill(freeBudget, free, rates)
  const paidLeft = fillByRate(capacity - freeBudget + freeLeft, paid, rates)
  if (paidLeft > 1e-9) fill(paidLeft, free, rates)
  return rates
}
