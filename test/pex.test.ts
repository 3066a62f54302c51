import t from 'tap'
import { join } from 'node:path'
import type { PeerInfo } from '../src/engine/torrent.js'
import type { TorrentView } from '../src/daemon/service.js'
import { startDaemon, tempDir, waitComplete } from './helpers/daemon.js'
import { sameFiles, writeFixture } from './helpers/fixture.js'
import { runCli, waitFor } from './helpers/process.js'

const FILES = [{ path: 'swarm.bin', size: 8 * 1024 * 1024 }]

t.test('peer exchange (ut_pex): a peer that only knows a middleman learns of the seeder', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  const middle = await startDaemon(t)
  const late = await startDaemon(t)
  const seeded = JSON.parse((await runCli(['seed', join(work, 'source', 'swarm.bin'), '--data-dir', seeder.dataDir, '--json'])).stdout) as TorrentView
  await runCli(['add', seeded.magnet, '--out', join(work, 'middle'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', middle.dataDir])
  await waitComplete(middle, seeded.infoHash)

  const added = await runCli(['add', seeded.magnet, '--out', join(work, 'late'), '--peer', `127.0.0.1:${middle.peerPort}`, '--data-dir', late.dataDir])
  t.equal(added.code, 0, added.stderr)
  const seederAddress = `127.0.0.1:${seeder.peerPort}`
  // Either side may dial: the middleman tells each about the other.
  await waitFor('the late peer and the seeder to find each other through PEX', async () => {
    const peers = await late.api.request<PeerInfo[]>('GET', `/v1/torrents/${seeded.infoHash}/peers`)
    return peers.some((peer) => peer.address === seederAddress || peer.listenAddress === seederAddress) ? true : undefined
  }, 60_000, 250)
  t.pass('the late peer is connected to the seeder, and nobody told either about the other but the middleman')
  await waitComplete(late, seeded.infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'late'), FILES), [], 'byte-equal')
})
