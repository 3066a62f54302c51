import type { PeerInfo } from '../src/api/types.js'
import type { RunningDaemon } from './daemon.js'

/**
 * Every peer a daemon showed for a torrent, by peer id, polled until `until` settles: a real client's
 * connection may close as soon as both sides have the data, so it is watched while it lasts.
 */
export async function peersSeenUntil (daemon: RunningDaemon, infoHash: string, until: Promise<unknown>): Promise<PeerInfo[]> {
  const seen = new Map<string, PeerInfo>()
  await whileUnsettled(until, async () => {
    for (const peer of await daemon.api.peers(infoHash).catch(() => [])) if (peer.peerId) seen.set(peer.peerId, peer)
  })
  return [...seen.values()]
}

/** Calls `probe` again and again (100 ms apart) until `until` settles; resolves then, whichever way. */
export async function whileUnsettled (until: Promise<unknown>, probe: () => Promise<unknown>): Promise<void> {
  let settled = false
  until.then(() => { settled = true }, () => { settled = true })
  while (!settled) {
    await probe()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** The readable start of a peer id (hex in the API): the client's Azureus-style tag, e.g. "-qB4520-". */
export function peerIdPrefix (peerId: string): string {
  return Buffer.from(peerId, 'hex').subarray(0, 8).toString('latin1')
}

/** The first peer whose id starts with the client's tag (e.g. /^-lt/ for rakshasa's libtorrent). */
export function peerOfClient (peers: readonly PeerInfo[], tag: RegExp): PeerInfo | undefined {
  return peers.find((peer) => tag.test(peerIdPrefix(peer.peerId)))
}

/**
 * How many connections to peers the torrent made or took in the next `ms`: a peer that hangs up (two
 * seeds have nothing to trade) must not be called back in a loop.
 */
export async function connectionsDuring (daemon: RunningDaemon, infoHash: string, ms: number): Promise<number> {
  const start = (await daemon.api.events(0)).next
  await new Promise((resolve) => setTimeout(resolve, ms))
  const { events } = await daemon.api.events(start)
  return events.filter((event) => event.infoHash === infoHash && event.event.type === 'peer-connected').length
}
