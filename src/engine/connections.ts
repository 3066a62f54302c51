import { isCallableAddress } from '../util/address.js'
import type { PeerBans } from './bans.js'
import type { Peer } from './peer.js'

/** Addresses a torrent remembers to call (libtorrent's max_peerlist_size is 3000 too). */
const MAX_CANDIDATES = 3000
const RECONNECT_BACKOFF_MS = [5_000, 15_000, 60_000, 300_000]
/** Addresses one peer's PEX may add in a minute (BEP 11's 50 a message, one message a minute). */
const PEX_ADDRESSES_PER_MINUTE = 50
/** A peer that sends nothing at all (not even a keep-alive, due every two minutes) for this long is dropped. */
const SILENT_TIMEOUT_MS = 300_000
/** A peer is given this long to become useful before its slot may go to a newcomer. */
const IDLE_GRACE_MS = 30_000
/**
 * A connection that ends sooner than this counts as a failed call, so a peer that takes the handshake
 * and hangs up (a seed when we are one too, a full peer) is called again only after the back-off, not
 * at once in a loop: found against qBittorrent, which hung up on a seeding bidtorrent 1,000 times a second.
 */
const SHORT_CONNECTION_MS = 30_000

interface Candidate {
  /** Calls in a row that failed or ended soon after the handshake. */
  failures: number
  nextAttemptAt: number
  /** It had every piece when its last connection ended: not called while we seed too (libtorrent does the same). */
  seed: boolean
  /** Why the last call failed (before or during the handshake). */
  lastFailure?: string
}

/** An address called and not (yet) reached, with why: shown to the user, not only logged. */
export interface UnreachablePeer {
  readonly address: string
  readonly failures: number
  readonly reason: string
  /** When it is called again (ms since the epoch); past its last failure it is forgotten instead. */
  readonly retryAt: number
}

export interface ConnectionsInit {
  readonly bans: PeerBans
  readonly ownPeerId: string
  readonly listenPort: () => number
  readonly maxPeers: number
  readonly maxHalfOpen: number
  /** Whether the torrent takes peers now (not paused or destroyed). */
  readonly open: () => boolean
  /** Whether it calls peers now (open, and in the swarm). */
  readonly calling: () => boolean
  /** Whether the torrent has every piece (then seeds are not called). */
  readonly seeding: () => boolean
  readonly connect: (address: string) => void
  readonly drop: (peer: Peer, reason: string) => void
}

/**
 * A torrent's peers: those connected, the addresses it knows to call (from trackers, the DHT, PEX
 * and the user) with their back-off, and the calls under way. It decides who may join.
 */
export class PeerConnections {
  private readonly connected = new Map<string, Peer>()
  private readonly candidates = new Map<string, Candidate>()
  private readonly connecting = new Set<string>()

  constructor (private readonly init: ConnectionsInit) {}

  get size (): number {
    return this.connected.size
  }

  /** Addresses known to call, connected or not. */
  get known (): number {
    return this.candidates.size
  }

  get (address: string): Peer | undefined {
    return this.connected.get(address)
  }

  values (): IterableIterator<Peer> {
    return this.connected.values()
  }

  /** Whether `peer` is still the connection at its address (not dropped or replaced). */
  isCurrent (peer: Peer): boolean {
    return this.connected.get(peer.address) === peer
  }

  /**
   * A peer to call. `retryNow`: the user named it (`add --peer`), so one already known is called
   * again at once, whatever its back-off after earlier failures.
   */
  addAddress (address: string, retryNow = false): void {
    if (this.init.bans.isBanned(address)) return
    const known = this.candidates.get(address)
    if (known) {
      if (!retryNow) return
      known.failures = 0
      known.nextAttemptAt = 0
      known.seed = false
      this.connectMore()
      return
    }
    if (!isCallableAddress(address)) return
    const port = this.init.listenPort()
    if (address === `127.0.0.1:${port}` || address === `[::1]:${port}`) return
    if (!this.roomForCandidate() && !retryNow) return
    this.candidates.set(address, { failures: 0, nextAttemptAt: 0, seed: false })
    this.connectMore()
  }

  /**
   * BEP 11 puts at most 50 peers in a message and ut_pex lets one through a minute: a peer that
   * lists more is not telling us about its swarm, it is aiming us at someone.
   */
  addFromPex (peer: Peer, address: string): void {
    const now = Date.now()
    if (now - peer.pexMinuteStartedAt >= 60_000) {
      peer.pexMinuteStartedAt = now
      peer.pexAddressesTaken = 0
    }
    if (peer.pexAddressesTaken >= PEX_ADDRESSES_PER_MINUTE) return
    peer.pexAddressesTaken++
    this.addAddress(address)
  }

  forget (address: string): void {
    this.candidates.delete(address)
  }

  /** A full peer list makes room for a new address by forgetting one that has failed, if any. */
  private roomForCandidate (): boolean {
    if (this.candidates.size < MAX_CANDIDATES) return true
    for (const [address, candidate] of this.candidates) {
      if (candidate.failures > 0 && !this.connecting.has(address) && !this.connected.has(address)) {
        this.candidates.delete(address)
        return true
      }
    }
    return false
  }

  connectMore (): void {
    if (!this.init.calling()) return
    const { maxPeers, maxHalfOpen } = this.init
    const now = Date.now()
    const seeding = this.init.seeding()
    for (const [address, candidate] of this.candidates) {
      if (this.connected.size + this.connecting.size >= maxPeers) return
      if (this.connecting.size >= maxHalfOpen) return
      if (candidate.nextAttemptAt > now || (seeding && candidate.seed)) continue
      if (this.connecting.has(address) || this.isConnectedTo(address)) continue
      this.connecting.add(address)
      this.init.connect(address)
    }
  }

  /** An outgoing call failed before or during the handshake. */
  connectFailed (address: string, reason: string): void {
    this.connecting.delete(address)
    const candidate = this.candidates.get(address)
    if (!candidate) return
    candidate.lastFailure = reason
    this.backOff(address, candidate)
  }

  private backOff (address: string, candidate: Candidate): void {
    candidate.failures++
    if (candidate.failures > RECONNECT_BACKOFF_MS.length + 2) this.candidates.delete(address)
    else candidate.nextAttemptAt = Date.now() + RECONNECT_BACKOFF_MS[Math.min(candidate.failures - 1, RECONNECT_BACKOFF_MS.length - 1)]!
  }

  /**
   * When to call a peer again after its connection ended: at once after a long one, after the
   * back-off after a short one. Leaving the swarm (a pause) ends connections by our own choice, and
   * they are called again as soon as the torrent runs.
   */
  private connectionEnded (peer: Peer): void {
    const address = this.candidates.has(peer.address) ? peer.address : peer.listenAddress
    const candidate = address === undefined ? undefined : this.candidates.get(address)
    if (!address || !candidate) return
    candidate.seed = peer.seed
    if (!this.init.calling()) return
    if (Date.now() - peer.connectedAt < SHORT_CONNECTION_MS) this.backOff(address, candidate)
    else candidate.failures = 0
  }

  /** The addresses whose last call failed, and why (at most `limit`). */
  unreachable (limit: number): UnreachablePeer[] {
    const result: UnreachablePeer[] = []
    for (const [address, candidate] of this.candidates) {
      if (candidate.lastFailure === undefined || this.isConnectedTo(address)) continue
      result.push({ address, failures: candidate.failures, reason: candidate.lastFailure, retryAt: candidate.nextAttemptAt })
      if (result.length >= limit) break
    }
    return result
  }

  private isConnectedTo (address: string): boolean {
    for (const peer of this.connected.values()) if (peer.address === address || peer.listenAddress === address) return true
    return false
  }

  /**
   * Whether a new connection from/to this peer may join (not banned, not a duplicate, room left).
   * When the torrent is full, a connection that has done nothing useful for a while (nothing to
   * trade either way) gives its slot to the newcomer: a crowd of idle peers cannot keep others out.
   */
  accepts (peerId: string, address: string, direction: 'incoming' | 'outgoing'): boolean {
    if (!this.init.open()) return false
    const { bans } = this.init
    if (bans.isBannedId(peerId) || bans.isBanned(address)) return false
    if (peerId === this.init.ownPeerId) return false
    for (const peer of this.connected.values()) if (peer.peerId === peerId) return false
    if (direction === 'incoming' && this.connected.size >= this.init.maxPeers) {
      const idle = this.idlestPeer(Date.now())
      if (!idle) return false
      this.init.drop(idle, 'its slot went to a new peer: it had nothing to trade')
    }
    return true
  }

  /** The longest-connected peer that neither wants our data nor has data we want, once past the grace period. */
  private idlestPeer (now: number): Peer | undefined {
    let idlest: Peer | undefined
    for (const peer of this.connected.values()) {
      if (now - peer.connectedAt < IDLE_GRACE_MS || peer.wire.peerInterested || peer.wire.amInterested) continue
      if (!idlest || peer.connectedAt < idlest.connectedAt) idlest = peer
    }
    return idlest
  }

  /** Once a tick: a peer silent for five minutes is gone. */
  dropSilent (now: number): void {
    for (const peer of [...this.connected.values()]) {
      if (now - peer.wire.lastReceivedAt > SILENT_TIMEOUT_MS) this.init.drop(peer, 'silent for five minutes')
    }
  }

  /** Both handshakes are done: the peer joins. */
  add (peer: Peer): void {
    // Over uTP a peer calls from its one UDP port, so a connection from an address already connected
    // is the same host after a restart (a new peer id), and the old connection is dead: a killed
    // process's uTP socket sends no reset. It goes first, so that nothing keyed by the address (the
    // market's connection, the requests it held) is left to the dead one.
    const stale = this.connected.get(peer.address)
    if (stale && stale !== peer) this.init.drop(stale, 'a new connection came from its address (the peer restarted)')
    this.connecting.delete(peer.address)
    const candidate = this.candidates.get(peer.address)
    if (candidate) delete candidate.lastFailure
    this.connected.set(peer.address, peer)
  }

  /** Whether the peer was connected (and is now removed). */
  remove (peer: Peer): boolean {
    if (!this.isCurrent(peer)) return false
    this.connected.delete(peer.address)
    this.connectionEnded(peer)
    return true
  }
}
