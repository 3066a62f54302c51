import { LRUCache } from 'lru-cache'

/**
 * What a ban names. A peer that sent corrupt data is banned by its IP address, as libtorrent does,
 * so reconnecting from another port does not get it back in. Loopback is the exception: every
 * peer on this machine (a test swarm, a local demo) shares 127.0.0.1, so there the ban names the
 * address and port.
 */
export function banKeyOf (address: string): string {
  const host = hostOf(address)
  return isLoopback(host) ? address : host
}

function hostOf (address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'))
  const colon = address.lastIndexOf(':')
  return colon === -1 ? address : address.slice(0, colon)
}

function isLoopback (host: string): boolean {
  return /^127\./.test(host) || host === '::1' || /^::ffff:127\./i.test(host)
}

/** Peers a torrent remembers the misbehaviour of (strikes and bans), the longest-ago forgotten first. */
const MAX_REMEMBERED_PEERS = 10_000

/**
 * What a torrent remembers of peers that misbehaved: bans, and strikes towards them. Bounded: an
 * attacker with many addresses (a whole IPv6 prefix; ports on loopback) must not grow it without end.
 */
export class PeerBans {
  /** Banned IPs (address and port on loopback): see banKeyOf. */
  private readonly addresses = new LRUCache<string, true>({ max: MAX_REMEMBERED_PEERS })
  private readonly peerIds = new LRUCache<string, true>({ max: MAX_REMEMBERED_PEERS })
  /** Pieces that failed their hash check, per sender address. */
  private readonly hashStrikes = new LRUCache<string, number>({ max: MAX_REMEMBERED_PEERS })
  /** Protocol violations per peer (its ban key). */
  private readonly protocolStrikes = new LRUCache<string, number>({ max: MAX_REMEMBERED_PEERS })

  isBanned (address: string): boolean {
    return this.addresses.has(banKeyOf(address))
  }

  isBannedId (peerId: string): boolean {
    return this.peerIds.has(peerId)
  }

  /** Counts a piece that failed its hash check against a sender: its strikes so far. */
  strikeForHash (address: string): number {
    const strikes = (this.hashStrikes.get(address) ?? 0) + 1
    this.hashStrikes.set(address, strikes)
    return strikes
  }

  /** Counts a protocol violation: the peer's strikes so far. */
  strikeForProtocol (address: string): number {
    const key = banKeyOf(address)
    const strikes = (this.protocolStrikes.get(key) ?? 0) + 1
    this.protocolStrikes.set(key, strikes)
    return strikes
  }

  /** Bans the address, and the peer id and listen address of a connected peer there. */
  ban (address: string, peer?: { readonly peerId: string, readonly listenAddress: string | undefined }): void {
    this.addresses.set(banKeyOf(address), true)
    if (peer?.peerId) this.peerIds.set(peer.peerId, true)
    if (peer?.listenAddress) this.addresses.set(banKeyOf(peer.listenAddress), true)
  }

  banned (): string[] {
    return [...this.addresses.keys()]
  }
}
