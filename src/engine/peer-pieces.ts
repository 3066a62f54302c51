import { bitfieldProblem, markHasAll, peerHas, type PieceAvailability } from './availability.js'
import type { TorrentContent } from './content.js'
import type { Peer } from './peer.js'
import type { PieceRequests } from './piece-requests.js'
import type { SuperSeeding } from './super-seeding.js'

export interface PeerPiecesInit {
  /** The content's parts, once the metadata is known. */
  readonly data: () => { readonly content: TorrentContent, readonly availability: PieceAvailability, readonly requests: PieceRequests } | undefined
  readonly drop: (peer: Peer, reason: string) => void
  /** The peer announced its last missing piece while connected to us: a new full copy in the swarm. */
  readonly completed: (peer: Peer) => void
  readonly superSeeding: SuperSeeding
}

/**
 * What peers have and what we tell them we have: their bitfields and haves counted into
 * availability (a malformed one drops the peer), our interest in them, and our own bitfield.
 */
export class PeerPieces {
  constructor (private readonly init: PeerPiecesInit) {}

  /** Our pieces, as the first message after the handshake. */
  sendHaves (peer: Peer): void {
    const { wire } = peer
    const content = this.init.data()?.content
    if (!content) {
      if (wire.hasFast) wire.haveNone()
      return
    }
    if (this.init.superSeeding.greet(peer)) return
    if (wire.hasFast && content.haveCount === 0) wire.haveNone()
    else if (wire.hasFast && content.hasAll) wire.haveAll()
    else wire.bitfield(content.bitfield)
  }

  onBitfield (peer: Peer): void {
    if (this.accept(peer)) this.updateInterest(peer)
  }

  /** The metadata arrived: a peer's bitfield counts now, and pieces found on disk since it connected go out as haves. */
  onMetadata (peer: Peer): void {
    const content = this.init.data()?.content
    if (!content || !this.accept(peer)) return
    // A bitfield may only open a connection; pieces found since then go out as haves.
    for (let i = 0; i < content.meta.pieceCount; i++) if (content.has(i)) peer.wire.have(i)
    this.updateInterest(peer)
  }

  /** Counts a peer's bitfield into availability, unless it is malformed (the peer is dropped). */
  private accept (peer: Peer): boolean {
    const data = this.init.data()
    if (!data) return false
    const problem = peer.seed ? undefined : bitfieldProblem(peer.wire.peerPieces.buffer, data.content.meta.pieceCount)
    if (problem) {
      this.init.drop(peer, problem)
      return false
    }
    data.availability.count(peer)
    return true
  }

  onHave (peer: Peer, index: number): void {
    const data = this.init.data()
    if (!data) return
    if (index >= data.content.meta.pieceCount) return this.init.drop(peer, `have for piece ${index} out of range`)
    // A peer that had nothing may send no bitfield (BEP 3) or a have-none before metadata: it is
    // counted at its first have, which its bitfield already holds.
    if (!peer.availabilityCounted) {
      if (!this.accept(peer)) return
    } else if (data.availability.have(peer, index)) {
      this.init.completed(peer)
    }
    this.init.superSeeding.onHave(peer, index)
    if (!data.content.has(index) && data.content.wants(index) && !peer.wire.amInterested) peer.wire.interested()
    data.requests.fill(peer)
  }

  /** The peer has nothing yet (BEP 6): counted now, so that its haves count as they come. */
  onHaveNone (peer: Peer): void {
    if (this.accept(peer)) this.updateInterest(peer)
  }

  onHaveAll (peer: Peer): void {
    const data = this.init.data()
    if (data) data.availability.haveAll(peer)
    else markHasAll(peer)
    this.updateInterest(peer)
  }

  /** Interested while the peer has a wanted piece we lack (and then asks it for blocks). */
  updateInterest (peer: Peer): void {
    const data = this.init.data()
    if (!data) return
    const { content, requests } = data
    let wanted = false
    if (!content.complete) {
      if (peer.seed) wanted = true
      else for (let i = 0; i < content.meta.pieceCount && !wanted; i++) wanted = !content.has(i) && content.wants(i) && peerHas(peer, i)
    }
    if (wanted) {
      peer.wire.interested()
      requests.fill(peer)
    } else {
      peer.wire.uninterested()
    }
  }
}
