import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseTorrentFile } from '../src/engine/metainfo.js'
import { seedFile, startDaemon, waitComplete } from '../testkit/daemon.js'
import { startEvilPeer } from '../testkit/evil-peer.js'
import { sameFiles } from '../testkit/fixture.js'
import { runCli } from '../testkit/process.js'

t.test('corrupt data fails verification, is fetched again from another peer, and the sender is banned', async (t) => {
  const seeder = await startDaemon(t)
  const { work, files, torrentFile, torrent: { infoHash } } = await seedFile(t, seeder, 'data.bin', 24 * 1024 * 1024, ['--upload-limit', '4MiB/s'])
  const meta = await parseTorrentFile(await readFile(torrentFile))
  const evil = await startEvilPeer(meta, join(work, 'source'))
  t.teardown(() => evil.close())

  const leecher = await startDaemon(t)
  const added = await runCli(['add', torrentFile, '--out', join(work, 'out'), '--data-dir', leecher.dataDir,
    '--peer', `127.0.0.1:${evil.port}`, '--peer', `127.0.0.1:${seeder.peerPort}`])
  t.equal(added.code, 0, added.stderr)
  const done = await waitComplete(leecher, infoHash)

  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the file ends correct')
  t.ok(evil.corruptBlocksSent > 0, `the bad peer did send corrupt blocks (${evil.corruptBlocksSent})`)
  t.ok(done.hashFailures >= 3, `pieces failed verification (${done.hashFailures})`)
  t.ok(done.bannedPeers.includes(`127.0.0.1:${evil.port}`), 'the bad peer is banned')
  t.match(leecher.logs(), /"message":"piece failed its hash check"/, 'each failure is logged')
  t.match(leecher.logs(), /"message":"peer banned"/, 'and the ban')
  const repeated = [...evil.requests].filter(([, count]) => count > 1)
  t.same(repeated, [], 'no block was asked of the bad peer twice: failed pieces went to the other peer')
  t.equal(evil.handshakes, 1, 'a banned peer is not called again')
  const peers = await leecher.api.request<Array<{ address: string }>>('GET', `/v1/torrents/${infoHash}/peers`)
  t.notOk(peers.some((peer) => peer.address === `127.0.0.1:${evil.port}`), 'and is no longer connected')
})
