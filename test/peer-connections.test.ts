import t from 'tap'
import { PeerBans } from '../src/engine/bans.js'
import { PeerConnections } from '../src/engine/connections.js'
import type { Peer } from '../src/engine/peer.js'

const ADDRESS = '127.0.0.1:6881'

interface Harness {
  readonly peers: PeerConnections
  readonly calls: string[]
  seeding: boolean
  calling: boolean
}

function harness (drop: (peers: PeerConnections, peer: Peer) => void = () => {}): Harness {
  const state = { seeding: false, calling: true }
  const calls: string[] = []
  const peers = new PeerConnections({
    bans: new PeerBans(),
    ownPeerId: 'own',
    listenPort: () => 1,
    maxPeers: 50,
    maxHalfOpen: 8,
    open: () => true,
    calling: () => state.calling,
    seeding: () => state.seeding,
    connect: (address) => calls.push(address),
    drop: (peer) => drop(peers, peer)
  })
  return Object.assign(state, { peers, calls })
}

/** A connected peer as PeerConnections reads it (the parts it looks at), connected `ageMs` ago. */
function connectedPeer (ageMs: number, seed = false): Peer {
  return {
    address: ADDRESS,
    listenAddress: ADDRESS,
    peerId: 'remote',
    connectedAt: Date.now() - ageMs,
    seed,
    wire: { peerInterested: false, amInterested: false, lastReceivedAt: Date.now() }
  } as unknown as Peer
}

/** Connects, and ends the connection as a torrent does (then it calls more); returns how many calls went out. */
function callAndHangUp (h: Harness, ageMs: number, seed = false): number {
  const peer = connectedPeer(ageMs, seed)
  h.peers.add(peer)
  h.calls.length = 0
  h.peers.remove(peer)
  h.peers.connectMore()
  return h.calls.length
}

t.test('a peer that hangs up right after the handshake is called again after the back-off, not at once', async (t) => {
  const h = harness()
  h.peers.addAddress(ADDRESS)
  t.same(h.calls, [ADDRESS], 'a new address is called')
  t.equal(callAndHangUp(h, 10), 0, 'not called back the moment it hangs up')
  h.peers.connectMore()
  t.equal(h.calls.length, 0, 'nor on the next tick')
  h.peers.addAddress(ADDRESS, true)
  t.same(h.calls, [ADDRESS], 'a user naming the peer calls it at once, back-off or not')
})

t.test('a long connection that ends is called again at once, as before', async (t) => {
  const h = harness()
  h.peers.addAddress(ADDRESS)
  t.equal(callAndHangUp(h, 60_000), 1, 'called again when a connection of a minute ends')
})

t.test('short connections in a row are forgotten in the end, like failed calls', async (t) => {
  const h = harness()
  h.peers.addAddress(ADDRESS)
  for (let i = 0; i < 6; i++) callAndHangUp(h, 10)
  t.equal(h.peers.known, 1, 'six are borne')
  callAndHangUp(h, 10)
  t.equal(h.peers.known, 0, 'after the seventh in a row the address is dropped')
})

t.test('a seed is not called while we seed, and is called again when we lack pieces', async (t) => {
  const h = harness()
  h.peers.addAddress(ADDRESS)
  h.seeding = true
  t.equal(callAndHangUp(h, 60_000, true), 0, 'two seeds have nothing to trade')
  h.seeding = false
  h.peers.connectMore()
  t.same(h.calls, [ADDRESS], 'a seed is worth calling while we download')
})

t.test('connections we end by leaving the swarm (a pause) are called again on resume', async (t) => {
  const h = harness()
  h.peers.addAddress(ADDRESS)
  const peer = connectedPeer(10)
  h.peers.add(peer)
  h.calling = false
  h.peers.remove(peer)
  h.calling = true
  h.calls.length = 0
  h.peers.connectMore()
  t.same(h.calls, [ADDRESS], 'called at once')
})

t.test('a new connection from an address already connected replaces the old one, which is dropped first', async (t) => {
  const dropped: Peer[] = []
  const { peers } = harness((peers, peer) => { dropped.push(peer); peers.remove(peer) })
  const before = connectedPeer(60_000)
  peers.add(before)
  const after = { ...connectedPeer(0), peerId: 'restarted' } as unknown as Peer
  peers.add(after)
  t.same(dropped, [before], 'the old connection at that address is dropped')
  t.notOk(peers.isCurrent(before), 'it is no longer current')
  t.ok(peers.isCurrent(after), 'the new one is')
  t.equal([...peers.values()].length, 1, 'one connection at the address')
})
