import t from 'tap'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli } from '../testkit/process.js'

const FILES = [{ path: 'tail.bin', size: 6 * 1024 * 1024 }]

t.test('endgame: blocks stuck at a slow peer are asked of a fast one too', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const torrentFile = join(work, 'tail.torrent')
  // A crawling seeder (one block a second) and a fast one with the same data.
  const slow = await startDaemon(t, { args: ['--upload-limit', '16KiB/s'] })
  const fast = await startDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'tail.bin'), '--save-torrent', torrentFile, '--data-dir', slow.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash } = JSON.parse(seeded.stdout) as TorrentView
  const fastCopy = await runCli(['add', torrentFile, '--out', join(work, 'source'), '--data-dir', fast.dataDir])
  t.equal(fastCopy.code, 0, fastCopy.stderr)
  await waitComplete(fast, infoHash)

  // The leecher meets the slow seeder first, so it holds requests when the fast one arrives.
  const leecher = await startDaemon(t)
  await runCli(['add', torrentFile, '--out', join(work, 'out'), '--peer', `127.0.0.1:${slow.peerPort}`, '--data-dir', leecher.dataDir])
  await new Promise((resolve) => setTimeout(resolve, 1500))
  await leecher.api.request('POST', `/v1/torrents/${infoHash}/peers`, { peers: [`127.0.0.1:${fast.peerPort}`] })
  const done = await waitComplete(leecher, infoHash)
  t.ok(done.endgameRequests > 0, `blocks outstanding at the slow peer were requested again from the fast one (${done.endgameRequests})`)
  const slowView = await slow.torrent(infoHash)
  t.ok(slowView.uploaded < FILES[0]!.size / 2, `the slow peer sent only a little (${slowView.uploaded} bytes)`)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), FILES), [], 'byte-equal')
})
