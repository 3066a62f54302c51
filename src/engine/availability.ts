import type { Peer } from './peer.js'

/** Counts above this stay put (a Uint16Array slot). */
const MAX_COUNT = 0xffff

/**
 * How many connected peers have each piece: the rarest-first picker's input. Seeds are left out of
 * the counts: a piece every seed has is not rarer or commoner for it.
 */
export class PieceAvailability {
  readonly counts: Uint16Array

  constructor (private readonly pieceCount: number) {
    this.counts = new Uint16Array(pieceCount)
  }

  /** Adds a peer's pieces once its bitfield is known (and marks it a seed when it has them all). */
  count (peer: Peer): void {
    if (peer.availabilityCounted) return
    peer.availabilityCounted = true
    if (peer.seed) return
    let had = 0
    for (let i = 0; i < this.pieceCount; i++) {
      if (peer.wire.peerPieces.get(i)) {
        had++
        if (this.counts[i]! < MAX_COUNT) this.counts[i]!++
      }
    }
    peer.heldPieces = had
    if (had === this.pieceCount) this.markSeed(peer)
  }

  markSeed (peer: Peer): void {
    if (peer.seed) return
    if (peer.availabilityCounted) {
      for (let i = 0; i < this.pieceCount; i++) if (peer.wire.peerPieces.get(i)) this.counts[i]!--
    }
    peer.seed = true
  }

  /** A have from the peer. True when it was the peer's last missing piece: it is a seed from now on. */
  have (peer: Peer, index: number): boolean {
    if (!peer.availabilityCounted || peer.seed) return false
    if (this.counts[index]! < MAX_COUNT) this.counts[index]!++
    if (++peer.heldPieces < this.pieceCount) return false
    this.markSeed(peer)
    return true
  }

  haveAll (peer: Peer): void {
    if (peer.availabilityCounted) this.markSeed(peer)
    markHasAll(peer)
  }

  remove (peer: Peer): void {
    if (!peer.availabilityCounted || peer.seed) return
    for (let i = 0; i < this.pieceCount; i++) if (peer.wire.peerPieces.get(i)) this.counts[i]!--
  }
}

/** A peer that has every piece (its have-all came, with or without our metadata) counts as a seed from now on. */
export function markHasAll (peer: Peer): void {
  peer.seed = true
  peer.availabilityCounted = true
}

export function peerHas (peer: Peer, index: number): boolean {
  return peer.seed || peer.wire.peerPieces.get(index)
}

/** What is wrong with a peer's bitfield for a torrent of `pieceCount` pieces, if anything. */
export function bitfieldProblem (bits: Uint8Array, pieceCount: number): string | undefined {
  const expectedBytes = Math.ceil(pieceCount / 8)
  for (let i = expectedBytes; i < bits.length; i++) if (bits[i] !== 0) return 'bitfield longer than the torrent'
  const spare = expectedBytes * 8 - pieceCount
  if (spare > 0 && bits.length >= expectedBytes && (bits[expectedBytes - 1]! & ((1 << spare) - 1)) !== 0) return 'bitfield has spare bits set'
  return undefined
}
