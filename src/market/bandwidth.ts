import type { SlotKind } from '../choker/types.js'

export interface UploadDemand {
  readonly id: string
  readonly kind: SlotKind
  /** Bytes per second the peer can take (its own download capacity, or what it has asked for). */
  readonly demand: number
  /**
   * Its claim on its class's capacity relative to the others (default 1): for a paid slot, the
   * rate it pays, so that paid bandwidth follows what each bidder pays per byte.
   */
  readonly weight?: number
}

const weightOf = (peer: UploadDemand): number => (peer.weight !== undefined && peer.weight > 0 ? peer.weight : 1)

/**
 * Shares of `capacity` among `peers` in proportion to their weights, none above its demand, what a
 * peer cannot use passed on to the others in the same proportions (weighted water-filling).
 */
function fill (capacity: number, peers: readonly UploadDemand[], into: Map<string, number>): number {
  const need = (peer: UploadDemand): number => peer.demand - (into.get(peer.id) ?? 0)
  let left = capacity
  // The peer that a share fills first is the one with the least need per unit of weight.
  let open = peers.filter((peer) => need(peer) > 0).sort((a, b) => need(a) / weightOf(a) - need(b) / weightOf(b))
  while (open.length > 0 && left > 1e-9) {
    const perWeight = left / open.reduce((sum, peer) => sum + weightOf(peer), 0)
    const smallest = open[0]!
    const wanted = need(smallest)
    if (wanted <= perWeight * weightOf(smallest)) {
      into.set(smallest.id, smallest.demand)
      left -= wanted
      open = open.slice(1)
    } else {
      for (const peer of open) into.set(peer.id, (into.get(peer.id) ?? 0) + perWeight * weightOf(peer))
      left = 0
    }
  }
  return left
}

/**
 * How a capped seller splits its upload rate among unchoked peers: the free class (regular and
 * optimistic slots, never sold) gets `reservedShare` of it in equal shares, and the paid slots the
 * rest in proportion to the rates they pay. Work-conserving: what one class cannot use goes to the
 * other, so a seller with no bidders serves free peers at full speed, and bidders never leave
 * capacity idle.
 */
export function shareUpload (capacity: number, peers: readonly UploadDemand[], reservedShare: number): Map<string, number> {
  const rates = new Map<string, number>(peers.map((peer) => [peer.id, 0]))
  const paid = peers.filter((peer) => peer.kind === 'paid')
  const free = peers.filter((peer) => peer.kind !== 'paid').map(({ weight: _weight, ...peer }) => peer)
  const freeBudget = paid.length === 0 ? capacity : free.length === 0 ? 0 : capacity * reservedShare
  const freeLeft = fill(freeBudget, free, rates)
  const paidLeft = fill(capacity - freeBudget + freeLeft, paid, rates)
  if (paidLeft > 1e-9) fill(paidLeft, free, rates)
  return rates
}
