import type { PeerInfo } from '../src/api/types.js'
import type { RunningDaemon } from './daemon.js'

/**
 * Every peer a daemon showed for a torrent, by peer id, polled until `until` settles: a real client's
 * connection may close as soon as both sides have the data, so it is watched while it lasts.
 */
export async function peersSeenUntil (daemon: RunningDaemon, infoHash: string, until: Promise<unknown>): Promise<PeerInfo[]> {
  const seen = new Map<string, PeerInfo>()
  let settled = false
  until.then(() => { settled = true }, () => { settled = true })
  while (!settled) {
    for (const peer of await daemon.api.peers(infoHash).catch(() => [])) if (peer.peerId) seen.set(peer.peerId, peer)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return [...seen.values()]
}

/** The readable start of a peer id (hex in the API): the client's Azureus-style tag, e.g. "-qB4520-". */
export function peerIdPrefix (peerId: string): string {
  return Buffer.from(peerId, 'hex').subarray(0, 8).toString('latin1')
}

/** The first peer whose id starts with the client's tag (e.g. /^-lt/ for rakshasa's libtorrent). */
export function peerOfClient (peers: readonly PeerInfo[], tag: RegExp): PeerInfo | undefined {
  return peers.find((peer) => tag.test(peerIdPrefix(peer.peerId)))
}
