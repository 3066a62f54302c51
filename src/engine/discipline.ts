import type { NetworkLog } from '../util/network-log.js'
import type { PeerBans } from './bans.js'
import type { PeerConnections } from './connections.js'
import type { Peer } from './peer.js'

/** A peer that breaks the protocol this many times is banned. */
const PROTOCOL_STRIKES_TO_BAN = 3

export interface DisciplineInit {
  readonly bans: PeerBans
  readonly peers: PeerConnections
  readonly networkLog: NetworkLog
  readonly infoHash: string
  readonly banAfterHashFailures: number
  /** The peer is banned: its blocks in unfinished pieces are forgotten and the torrent says so. */
  readonly banned: (address: string, reason: string) => void
  readonly drop: (peer: Peer, reason: string) => void
}

/** Strikes and bans: for protocol violations and for pieces that failed their hash check. */
export class PeerDiscipline {
  constructor (private readonly init: DisciplineInit) {}

  /**
   * The peer broke the protocol (a message we could not handle, an oversized one): it is already
   * disconnected; said once in the rate-limited log, and banned when it keeps doing it.
   */
  misbehaved (peer: Peer, what: string): void {
    const strikes = this.init.bans.strikeForProtocol(peer.address)
    this.init.networkLog.warn(peer.address, 'peer disconnected: it broke the protocol', { infoHash: this.init.infoHash, sent: what, strikes })
    if (strikes >= PROTOCOL_STRIKES_TO_BAN) this.ban(peer.address, `${strikes} protocol violations`)
  }

  /** A piece failed its hash check: a strike for each of its senders. */
  hashFailed (senders: readonly string[]): void {
    for (const address of senders) {
      const strikes = this.init.bans.strikeForHash(address)
      if (strikes >= this.init.banAfterHashFailures) this.ban(address, `${strikes} pieces failed their hash check`)
    }
  }

  private ban (address: string, reason: string): void {
    const { bans, peers } = this.init
    const peer = peers.get(address)
    bans.ban(address, peer)
    peers.forget(address)
    this.init.banned(address, reason)
    this.init.networkLog.warn(address, 'peer banned', { infoHash: this.init.infoHash, reason })
    if (peer) this.init.drop(peer, reason)
  }
}
