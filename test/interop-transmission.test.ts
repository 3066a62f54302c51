import t from 'tap'
import { cp } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerInfo, TorrentView } from '../src/api/types.js'
import { createTorrentFrom } from '../src/engine/create.js'
import { startOpentracker, waitForTrackerSeeder } from '../testkit/clients.js'
import { torrentOfFixture } from '../testkit/client-interop.js'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { createNamespaceLink } from '../testkit/netns.js'
import { runCli, waitFor } from '../testkit/process.js'
import { startTransmission } from '../testkit/transmission.js'

const MiB = 1024 * 1024
const FILES = [{ path: 'tr/a.bin', size: 6 * MiB + 11 }, { path: 'tr/sub/b.bin', size: 2 * MiB }, { path: 'tr/c.txt', size: 999 }]

// Transmission 3.00 ignores peers on 127.0.0.1: it runs in a network namespace of its own, joined
// to ours by a veth pair, and finds bidtorrent through a tracker on our end of the pair.
t.test('Transmission at its defaults (uTP on) downloads from bidtorrent through a tracker', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const link = await createNamespaceLink(t)
  const { infoHash } = await createTorrentFrom(join(work, 'source', 'tr'))
  const tracker = await startOpentracker(t, work, [infoHash], undefined, link.hostAddress)
  const seeder = await startDaemon(t)
  const torrentFile = join(work, 'tr.torrent')
  const seeded = await runCli(['seed', join(work, 'source', 'tr'), '--tracker', tracker.http, '--save-torrent', torrentFile, '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  t.equal((JSON.parse(seeded.stdout) as TorrentView).infoHash, infoHash)
  await waitForTrackerSeeder(tracker, infoHash)

  const transmission = await startTransmission(t, link, join(work, 'transmission'))
  const added = await transmission.remote(['--add', torrentFile])
  t.equal(added.code, 0, added.stderr)
  await waitFor('Transmission to finish', async () => (await transmission.percentDone()) >= 100 ? true : undefined, 240_000, 1000)
  t.same(await sameFiles(join(work, 'source'), join(work, 'transmission', 'downloads'), FILES), [], 'Transmission\'s copy is byte-equal')
  const seen = await seeder.api.request<PeerInfo[]>('GET', `/v1/torrents/${infoHash}/peers`)
  const fromTransmission = seen.find((peer) => peer.address.startsWith(`${link.namespaceAddress}:`))
  t.ok(fromTransmission, 'Transmission is among the seeder\'s peers')
  t.equal(fromTransmission?.transport, 'utp', 'Transmission came over uTP, as it prefers')
  t.match(fromTransmission?.client ?? '', /Transmission/, 'and says who it is')

})

// Transmission knows peers by address alone: a second bidtorrent on the first one's address would
// be taken for the seed it already met (and dropped, seed to seed), so each direction has its own test.
t.test('bidtorrent downloads from Transmission at its defaults by magnet link (metadata and data over uTP)', async (t) => {
  const { work, meta, torrentFile } = await torrentOfFixture(t, FILES)
  const link = await createNamespaceLink(t)
  const transmission = await startTransmission(t, link, join(work, 'transmission'))
  await cp(join(work, 'source', 'tr'), join(work, 'transmission', 'downloads', 'tr'), { recursive: true })
  const added = await transmission.remote(['--add', torrentFile])
  t.equal(added.code, 0, added.stderr)
  await waitFor('Transmission to check its copy', async () => (await transmission.percentDone()) >= 100 ? true : undefined, 120_000, 1000)
  const leecher = await startDaemon(t)
  const magnet = `magnet:?xt=urn:btih:${meta.infoHash}&dn=tr`
  const fetched = await runCli(['add', magnet, '--out', join(work, 'bt'), '--peer', `${link.namespaceAddress}:${transmission.peerPort}`, '--data-dir', leecher.dataDir, '--json'])
  t.equal(fetched.code, 0, fetched.stderr)
  const done = await waitComplete(leecher, meta.infoHash)
  t.equal(done.hashFailures, 0)
  t.same(await sameFiles(join(work, 'source'), join(work, 'bt'), FILES), [], 'byte-equal, metadata and data from Transmission')
  const peers = await leecher.api.request<PeerInfo[]>('GET', `/v1/torrents/${meta.infoHash}/peers`)
  t.same(peers.map((peer) => [peer.address, peer.transport]), [[`${link.namespaceAddress}:${transmission.peerPort}`, 'utp']], 'bidtorrent called Transmission over uTP')
  t.match(peers[0]?.client ?? '', /Transmission/, 'and it says who it is')
})
