import t from 'tap'
import { join } from 'node:path'
import type { PeerInfo, TorrentView } from '../src/api/types.js'
import { torrentOfFixture } from '../testkit/client-interop.js'
import { startDaemon, tempDir, waitComplete, type Checked, type RunningDaemon } from '../testkit/daemon.js'
import { startLibtorrent } from '../testkit/clients.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli, waitFor } from '../testkit/process.js'

const MiB = 1024 * 1024
// libtorrent's uTP on loopback manages a few MiB/s: a small torrent.
const FILES = [{ path: 'utp/a.bin', size: 5 * MiB + 3 }, { path: 'utp/b.txt', size: 777 }]

/** A default daemon seeding FILES from `<work>/source/utp`. */
async function seedFixture (t: Checked): Promise<{ work: string, seeder: RunningDaemon, infoHash: string, magnet: string }> {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'utp'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash, magnet } = JSON.parse(seeded.stdout) as TorrentView
  return { work, seeder, infoHash, magnet }
}

t.test('libtorrent with TCP off downloads from bidtorrent over uTP', async (t) => {
  const { work, seeder, infoHash, magnet } = await seedFixture(t)
  const libtorrent = await startLibtorrent(t, ['--mode', 'download', '--magnet', magnet, '--save', join(work, 'lt'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--transport', 'utp', '--linger'])
  const result = await libtorrent.done
  t.equal(result.failed, 0, 'libtorrent saw no failed pieces')
  t.same(await sameFiles(join(work, 'source'), join(work, 'lt'), FILES), [], 'libtorrent\'s copy is byte-equal')
  const peers = await seeder.api.request<PeerInfo[]>('GET', `/v1/torrents/${infoHash}/peers`)
  t.same(peers.map((peer) => [peer.transport, peer.direction]), [['utp', 'incoming']], 'the seeder shows libtorrent on uTP')
})

t.test('bidtorrent downloads over uTP from a libtorrent seeder with TCP off', async (t) => {
  const { work, meta, torrentFile } = await torrentOfFixture(t, FILES)
  const libtorrent = await startLibtorrent(t, ['--mode', 'seed', '--torrent', torrentFile, '--save', join(work, 'source'), '--transport', 'utp'])
  const leecher = await startDaemon(t)
  const added = await runCli(['add', torrentFile, '--out', join(work, 'bt'), '--peer', `127.0.0.1:${libtorrent.port}`, '--data-dir', leecher.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  const peer = await waitFor('a peer on uTP', async () => {
    const peers = await leecher.api.request<PeerInfo[]>('GET', `/v1/torrents/${meta.infoHash}/peers`)
    return peers[0]
  }, 60_000)
  t.equal(peer.transport, 'utp', 'bidtorrent called libtorrent over uTP')
  const done = await waitComplete(leecher, meta.infoHash)
  t.equal(done.hashFailures, 0)
  t.same(await sameFiles(join(work, 'source'), join(work, 'bt'), FILES), [], 'bidtorrent\'s copy is byte-equal')
})

t.test('a daemon with uTP off, and one with TCP off, each download from a default daemon over the transport they have', async (t) => {
  const { work, seeder, infoHash, magnet } = await seedFixture(t)
  for (const [setting, transport] of [['BIDTORRENT_UTP', 'tcp'], ['BIDTORRENT_TCP', 'utp']] as const) {
    const leecher = await startDaemon(t, { env: { [setting]: 'false' } })
    const added = await runCli(['add', magnet, '--out', join(work, transport), '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir, '--json'])
    t.equal(added.code, 0, added.stderr)
    const peer = await waitFor(`the ${transport}-only leecher's peer`, async () => (await leecher.api.request<PeerInfo[]>('GET', `/v1/torrents/${infoHash}/peers`))[0], 60_000)
    t.equal(peer.transport, transport, `the ${transport}-only leecher connects over ${transport}`)
    await waitComplete(leecher, infoHash)
    t.same(await sameFiles(join(work, 'source'), join(work, transport), FILES), [], `the ${transport} copy is byte-equal`)
  }
})

t.test('an IPv6 peer is called over TCP (uTP here is IPv4 only), and one daemon listens on both families', async (t) => {
  const { work, seeder, infoHash, magnet } = await seedFixture(t)
  const leecher = await startDaemon(t)
  const added = await runCli(['add', magnet, '--out', join(work, 'v6'), '--peer', `[::1]:${seeder.peerPort}`, '--data-dir', leecher.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  const peer = await waitFor('the IPv6 peer', async () => (await leecher.api.request<PeerInfo[]>('GET', `/v1/torrents/${infoHash}/peers`))[0], 60_000)
  t.same([peer.address, peer.transport], [`[::1]:${seeder.peerPort}`, 'tcp'], 'connected to [::1] over TCP')
  await waitComplete(leecher, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'v6'), FILES), [], 'byte-equal over IPv6')
  const seen = await seeder.api.request<PeerInfo[]>('GET', `/v1/torrents/${infoHash}/peers`)
  t.match(seen[0]?.address ?? '', /^\[::1\]:\d+$/, 'the seeder names its IPv6 peer as [::1]:port')
})

t.test('a call that reaches nobody shows why in the torrent\'s status', async (t) => {
  const { work, meta, torrentFile } = await torrentOfFixture(t, FILES)
  const leecher = await startDaemon(t)
  // A port nobody listens on (TCP or UDP): the daemon's own port number plus one is as good as any.
  const added = await runCli(['add', torrentFile, '--out', join(work, 'bt'), '--peer', `127.0.0.1:${leecher.peerPort + 1}`, '--data-dir', leecher.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  const unreachable = await waitFor('the failed call to show', async () => (await leecher.torrent(meta.infoHash)).unreachablePeers[0], 60_000)
  t.equal(unreachable.address, `127.0.0.1:${leecher.peerPort + 1}`)
  t.match(unreachable.reason, /tcp: .*refused/i, `the reason names the transport and the failure (${unreachable.reason})`)
  const info = await runCli(['info', meta.infoHash, '--data-dir', leecher.dataDir])
  t.match(info.stdout, /not reached:\n\s+127\.0\.0\.1:\d+\s+1 call/, 'info shows it')
})
