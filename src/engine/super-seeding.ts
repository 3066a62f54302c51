import type { PieceAvailability } from './availability.js'
import { peerHas } from './availability.js'
import type { TorrentContent } from './content.js'
import type { Peer } from './peer.js'

/** Pieces offered to a peer at once, as libtorrent does: the second keeps it busy while it finishes the first. */
const PIECES_OFFERED = 2

/**
 * The piece to offer a peer next: one it lacks and was not offered, held by the fewest peers we
 * see, counting those it is being offered to now. Ties go to a random one, so that peers arriving
 * together spread over the torrent. Undefined when the peer lacks nothing we could offer.
 */
export function pieceToOffer (pieceCount: number, lacks: (piece: number) => boolean, copies: (piece: number) => number, random: () => number): number | undefined {
  let best: number | undefined
  let fewest = Number.POSITIVE_INFINITY
  let ties = 0
  for (let piece = 0; piece < pieceCount; piece++) {
    if (!lacks(piece)) continue
    const held = copies(piece)
    if (held < fewest) {
      best = piece
      fewest = held
      ties = 1
    } else if (held === fewest && random() * ++ties < 1) {
      // Reservoir sampling: each of the tied pieces is kept with the same chance.
      best = piece
    }
  }
  return best
}

export interface SuperSeedingInit {
  readonly peers: () => Iterable<Peer>
  readonly data: () => { readonly content: TorrentContent, readonly availability: PieceAvailability } | undefined
  readonly random: () => number
}

/**
 * Initial seeding (BEP 16), for a lone seed such as a studio's at a launch: it hides its pieces
 * and offers each peer that connects one or two, the rarest, so that each piece leaves it about
 * once and the peers trade the rest among themselves. A peer is offered a new piece as soon as it
 * announces one it was offered (libtorrent's default; its "strict" mode waits until the piece shows
 * up at another peer, which stalls a swarm of peers that do not upload). Requests for pieces not
 * offered are refused (see Uploads.onRequest, by Peer.superSeedPieces).
 *
 * It applies to peers that connect while it is on and the torrent is complete; peers connected
 * before it was turned on already know every piece we have.
 */
export class SuperSeeding {
  private on = false

  constructor (private readonly init: SuperSeedingInit) {}

  get enabled (): boolean {
    return this.on
  }

  /** Turning it off tells every peer it hid pieces from that we have them all. */
  set (on: boolean): void {
    if (on === this.on) return
    this.on = on
    if (on) return
    const data = this.init.data()
    for (const peer of this.init.peers()) {
      const offered = peer.superSeedPieces
      if (!offered) continue
      peer.superSeedPieces = undefined
      if (!data) continue
      for (let piece = 0; piece < data.content.meta.pieceCount; piece++) {
        if (data.content.has(piece) && !offered.includes(piece) && !peerHas(peer, piece)) peer.wire.have(piece)
      }
    }
  }

  /** Instead of our bitfield, when we seed with it on: nothing (have-none), then the first offers. True when it did. */
  greet (peer: Peer): boolean {
    const data = this.init.data()
    if (!this.on || !data?.content.complete) return false
    if (peer.wire.hasFast) peer.wire.haveNone()
    peer.superSeedPieces = []
    for (let offers = 0; offers < PIECES_OFFERED; offers++) this.offer(peer)
    return true
  }

  /** A have from the peer: an offered piece it now holds is replaced by a new offer. */
  onHave (peer: Peer, piece: number): void {
    const offered = peer.superSeedPieces
    const at = offered?.indexOf(piece) ?? -1
    if (!offered || at < 0) return
    offered.splice(at, 1)
    this.offer(peer)
  }

  private offer (peer: Peer): void {
    const data = this.init.data()
    const offered = peer.superSeedPieces
    if (!data || !offered || peer.seed) return
    const beingOffered = new Map<number, number>()
    for (const other of this.init.peers()) {
      for (const piece of other.superSeedPieces ?? []) beingOffered.set(piece, (beingOffered.get(piece) ?? 0) + 1)
    }
    const piece = pieceToOffer(
      data.content.meta.pieceCount,
      (index) => !offered.includes(index) && !peerHas(peer, index),
      (index) => data.availability.counts[index]! + (beingOffered.get(index) ?? 0),
      this.init.random
    )
    if (piece === undefined) return
    offered.push(piece)
    peer.wire.have(piece)
  }
}
