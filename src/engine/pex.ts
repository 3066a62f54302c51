import type { EventEmitter } from 'node:events'

/** The parts of ut_pex (BEP 11) this engine drives. */
export interface PexExtension extends EventEmitter {
  start (): void
  stop (): void
  addPeer (address: string): void
  addPeer6 (address: string): void
  dropPeer (address: string): void
  dropPeer6 (address: string): void
  _sendMessage (): void
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}:\d+$/
const IPV6 = /^\[[0-9a-fA-F:.]+\]:\d+$/

/** Tells the peer about another one we know: "a.b.c.d:port" in `added`, "[v6]:port" in `added6`. */
export function advertise (pex: PexExtension, address: string): void {
  if (IPV4.test(address)) pex.addPeer(address)
  else if (IPV6.test(address)) pex.addPeer6(address)
}

/** Tells the peer that one we advertised has gone. */
export function withdraw (pex: PexExtension, address: string): void {
  if (IPV4.test(address)) pex.dropPeer(address)
  else if (IPV6.test(address)) pex.dropPeer6(address)
}

/** The first PEX message goes out this soon after the handshake; ut_pex then sends one every 65 s. */
const FIRST_PEX_DELAY_MS = 2_000

/** What PEX needs of a connected peer. */
export interface PexPeer {
  readonly listenAddress: string | undefined
  readonly wire: { readonly ut_pex?: unknown, readonly peerExtendedHandshake: { readonly m?: Record<string, unknown> } }
}

export function pexOf (peer: PexPeer): PexExtension | undefined {
  return peer.wire.ut_pex as PexExtension | undefined
}

/** PEX (BEP 11) across a torrent's connections: who hears of whom, as peers join and leave. */
export class PexGossip<P extends PexPeer> {
  constructor (private readonly peers: () => Iterable<P>, private readonly isConnected: (peer: P) => boolean) {}

  /**
   * The peer's extended handshake arrived: if it speaks PEX, it hears of the peers we know (its
   * first message soon, then one a minute), and the others hear of it.
   */
  joined (peer: P): void {
    const pex = pexOf(peer)
    if (pex && peer.wire.peerExtendedHandshake.m?.ut_pex) {
      pex.start()
      for (const other of this.peers()) if (other !== peer && other.listenAddress) advertise(pex, other.listenAddress)
      const first = setTimeout(() => { if (this.isConnected(peer)) pex._sendMessage() }, FIRST_PEX_DELAY_MS)
      first.unref()
    }
    this.tellOthers(peer, advertise)
  }

  left (peer: P): void {
    // ut_pex's 65 s interval outlives the wire unless stopped.
    pexOf(peer)?.stop()
    this.tellOthers(peer, withdraw)
  }

  /** Tells every other peer's PEX that `peer` (by the address it listens on) joined or left. */
  private tellOthers (peer: P, tell: (pex: PexExtension, address: string) => void): void {
    if (!peer.listenAddress) return
    for (const other of this.peers()) {
      const pex = other === peer ? undefined : pexOf(other)
      if (pex) tell(pex, peer.listenAddress)
    }
  }
}
