import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import Wire from 'bittorrent-protocol'
import t from 'tap'
import bencode from 'bencode'
import { seedFile, startDaemon, waitComplete } from '../testkit/daemon.js'
import { sameFiles } from '../testkit/fixture.js'
import { MiB, marketDaemon } from '../testkit/market.js'
import { runCli, waitFor } from '../testkit/process.js'

interface Attacker {
  readonly wire: Wire
  readonly socket: Socket
  readonly closed: Promise<void>
}

/** A real BitTorrent connection to the daemon, through the extended handshake, for the test to abuse. */
async function attacker (port: number, infoHash: string, extensions: Record<string, unknown> = {}): Promise<Attacker> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const closed = once(socket, 'close').then(() => {})
  const wire = new Wire()
  wire.on('error', () => socket.destroy())
  socket.pipe(wire).pipe(socket)
  await once(socket, 'connect')
  Object.assign(wire.extendedHandshake, extensions)
  const shaken = once(wire, 'extended')
  wire.handshake(infoHash, randomBytes(20))
  await shaken
  return { wire, socket, closed }
}

async function faultsOf (daemon: { api: { request: <T>(method: string, path: string) => Promise<T> } }): Promise<{ uncaughtExceptions: number, unhandledRejections: number }> {
  return (await daemon.api.request<{ faults: { uncaughtExceptions: number, unhandledRejections: number } }>('GET', '/v1/status')).faults
}

t.test('a message an extension cannot handle (ut_metadata with an empty payload) closes that connection, never stalls it; 50 such peers cannot keep a leecher out', async (t) => {
  const seeder = await startDaemon(t)
  const { work, files, torrent } = await seedFile(t, seeder, 'target.bin', 6 * MiB, ['--upload-limit', '4MiB/s'])
  const first = await attacker(seeder.peerPort, torrent.infoHash)
  first.wire.extended('ut_metadata', new Uint8Array(0))
  const outcome = await Promise.race([first.closed.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still open'), 5000))])
  t.equal(outcome, 'closed', 'the daemon hung up on the peer whose message broke its handler')

  // Fifty of them, the torrent's whole peer limit: each is dropped at once, and its slot frees.
  const crowd = await Promise.all(Array.from({ length: 50 }, async () => {
    const one = await attacker(seeder.peerPort, torrent.infoHash).catch(() => undefined)
    one?.wire.extended('ut_metadata', new Uint8Array(0))
    return one
  }))
  await Promise.all(crowd.map((one) => one && Promise.race([one.closed, new Promise((resolve) => setTimeout(resolve, 10_000))])))
  const leecher = await startDaemon(t)
  const fetched = await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir, '--wait'])
  t.equal(fetched.code, 0, fetched.stderr)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'a clean leecher completed, byte-equal')
  t.same(await faultsOf(seeder), { uncaughtExceptions: 0, unhandledRejections: 0 }, 'nothing reached the process\'s last-resort handlers')
  const peersNow = await seeder.api.request<unknown[]>('GET', `/v1/torrents/${torrent.infoHash}/peers`)
  t.ok(peersNow.length <= 2, `no attacker holds a slot (${peersNow.length} peers connected)`)
  for (const one of crowd) one?.socket.destroy()
})

t.test('a peer that turns the bid extension off (m.bt_bid = 0) mid-connection causes no error when the market next writes to it', async (t) => {
  const seller = await marketDaemon(t)
  const { torrent } = await seedFile(t, seller.daemon, 'market.bin', MiB, ['--floor', '20BTT/MiB'])
  const peer = await attacker(seller.daemon.peerPort, torrent.infoHash)
  // The extended handshake again, with bt_bid switched off (BEP 10: an id of 0).
  peer.wire.extended(0, bencode.encode({ m: { bt_bid: 0, ut_metadata: 0 } }))
  peer.wire.interested()
  // A floor change makes the market write to every connected peer.
  const changed = await runCli(['floor', torrent.infoHash, '30BTT/MiB', '--data-dir', seller.daemon.dataDir])
  t.equal(changed.code, 0, changed.stderr)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.same(await faultsOf(seller.daemon), { uncaughtExceptions: 0, unhandledRejections: 0 }, 'no "Unrecognized extension" escaped')
  t.notMatch(seller.daemon.logs(), /Unrecognized extension/)
  peer.socket.destroy()
})

t.test('a connection that goes silent after its handshake gives its slot to a newcomer; a known address re-added is called at once', async (t) => {
  const seeder = await startDaemon(t, { env: { BIDTORRENT_MAX_PEERS_PER_TORRENT: '5' } })
  const { work, files, torrent } = await seedFile(t, seeder, 'slots.bin', 4 * MiB)
  const holders = await Promise.all(Array.from({ length: 5 }, () => attacker(seeder.peerPort, torrent.infoHash)))
  const leecher = await startDaemon(t)
  await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir])
  await new Promise((resolve) => setTimeout(resolve, 2000))
  t.equal((await leecher.torrent(torrent.infoHash)).verifiedPieces, 0, 'while five silent peers fill the torrent, a newcomer is turned away')
  // Past the grace period, idle holders are fair game; the user tries the address again at once.
  await new Promise((resolve) => setTimeout(resolve, 31_000))
  const again = await runCli(['add', torrent.magnet, '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir])
  t.equal(again.code, 0, again.stderr)
  await waitComplete(leecher, torrent.infoHash, 60_000)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the newcomer took an idle peer\'s slot and completed')
  t.ok(await waitFor('an idle holder to be dropped', async () => (await Promise.race([Promise.any(holders.map((holder) => holder.closed)).then(() => true), new Promise((resolve) => setTimeout(() => resolve(undefined), 100))]) as true | undefined), 5000), 'one of the idle holders was dropped for it')
  for (const holder of holders) holder.socket.destroy()
})

t.test('piece indexes, offsets and lengths of 2^31 or more (negative when read as signed) are refused with the connection; counters never go negative', async (t) => {
  const seeder = await startDaemon(t)
  const { torrent } = await seedFile(t, seeder, 'signed.bin', 2 * MiB)
  const raw = (id: number, ...fields: number[]): Buffer => {
    const message = Buffer.alloc(5 + fields.length * 4)
    message.writeUInt32BE(1 + fields.length * 4, 0)
    message[4] = id
    fields.forEach((value, i) => message.writeUInt32BE(value, 5 + i * 4))
    return message
  }
  for (const [what, message] of [
    ['a request at offset 2^32 - 16 KiB (-16384 as signed)', raw(6, 0, 0xffffc000, 0x4000)],
    ['a request of length 2^32 - 16 KiB', raw(6, 0, 0, 0xffffc000)],
    ['a request for piece 2^31', raw(6, 0x80000000, 0, 0x4000)],
    ['a have for piece 2^32 - 1', raw(4, 0xffffffff)],
    ['a cancel at offset 2^31', raw(8, 0, 0x80000000, 0x4000)]
  ] as const) {
    const peer = await attacker(seeder.peerPort, torrent.infoHash)
    peer.wire.interested()
    await new Promise((resolve) => setTimeout(resolve, 300))
    peer.socket.write(message)
    const outcome = await Promise.race([peer.closed.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still open'), 5000))])
    t.equal(outcome, 'closed', `${what}: the connection is closed`)
  }
  const view = await seeder.torrent(torrent.infoHash)
  t.ok(view.uploaded >= 0, `the seeder's uploaded count never went negative (${view.uploaded})`)
  t.same(await faultsOf(seeder), { uncaughtExceptions: 0, unhandledRejections: 0 }, 'nothing escaped')
})

t.test('a PEX message listing a thousand peers adds fifty, and never the unspecified, broadcast or multicast addresses', async (t) => {
  const seeder = await startDaemon(t)
  const { torrent } = await seedFile(t, seeder, 'pex.bin', MiB)
  const peer = await attacker(seeder.peerPort, torrent.infoHash)
  // The handshake again, now offering ut_pex, so the daemon's ut_pex takes our messages.
  peer.wire.extended(0, bencode.encode({ m: { ut_pex: 1 } }))
  await new Promise((resolve) => setTimeout(resolve, 300))
  const compact = (host: string, port: number): Buffer => Buffer.from([...host.split('.').map(Number), port >> 8, port & 0xff])
  const listed = [compact('0.0.0.0', 6881), compact('224.0.0.1', 6881), compact('255.255.255.255', 6881)]
  // Loopback addresses nobody listens on: the calls the daemon makes to them stay on this machine.
  for (let i = 0; listed.length < 1000; i++) listed.push(compact(`127.0.${1 + (i >> 8)}.${1 + (i & 0xff)}`, 1))
  peer.wire.extended('ut_pex', bencode.encode({ added: Buffer.concat(listed) }))
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const known = (await seeder.torrent(torrent.infoHash)).knownPeers
  t.ok(known <= 47 && known > 0, `the daemon took at most 50 of the listed peers, the 3 it must not call not among them (${known} known)`)
  t.same(await faultsOf(seeder), { uncaughtExceptions: 0, unhandledRejections: 0 }, 'nothing escaped')
  peer.socket.destroy()
})
