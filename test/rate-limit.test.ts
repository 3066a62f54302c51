import t from 'tap'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { writeFixture } from '../testkit/fixture.js'
import { runCli, waitFor } from '../testkit/process.js'

const MiB = 1024 * 1024

t.test('a seeder capped at a rate serves no faster than the cap', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), [{ path: 'capped.bin', size: 24 * MiB }])
  const cap = 2 * MiB
  const seeder = await startDaemon(t, { args: ['--upload-limit', '2MiB/s'] })
  const leecher = await startDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'capped.bin'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash, magnet } = JSON.parse(seeded.stdout) as TorrentView
  const added = await runCli(['add', magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir])
  t.equal(added.code, 0, added.stderr)

  // Measure over a window that starts once data flows: the received byte count, on the leecher's side.
  const start = await waitFor('data to flow', async () => {
    const torrent = await leecher.torrent(infoHash)
    return torrent.downloaded > 2 * MiB ? { bytes: torrent.downloaded, at: Date.now() } : undefined
  })
  await new Promise((resolve) => setTimeout(resolve, 6000))
  const end = await leecher.torrent(infoHash)
  const seconds = (Date.now() - start.at) / 1000
  const rate = (end.downloaded - start.bytes) / seconds
  // Slack: the token bucket's 0.25 s burst and up to 1 MiB queued in the socket when the window opened.
  const ceiling = cap + (cap * 0.25 + 1.5 * MiB) / seconds
  t.ok(rate <= ceiling, `measured ${(rate / MiB).toFixed(2)} MiB/s over ${seconds.toFixed(1)} s, cap 2 MiB/s (ceiling with slack ${(ceiling / MiB).toFixed(2)})`)
  t.ok(rate > cap * 0.2, 'and data does flow')

  // A per-torrent limit set live through the CLI caps it further.
  const limited = await runCli(['limit', infoHash, '--upload', '1MiB/s', '--data-dir', seeder.dataDir, '--json'])
  t.equal(limited.code, 0, limited.stderr)
  t.equal((JSON.parse(limited.stdout) as TorrentView).uploadLimit, MiB)
  const before = await leecher.torrent(infoHash)
  const beforeAt = Date.now()
  // At most ~16 of the 24 MiB can have arrived under the 2 MiB/s cap, so the window below sees data.
  t.ok(before.verifiedPieces < before.pieceCount!, 'the download is still running when the limit changes')
  await new Promise((resolve) => setTimeout(resolve, 4000))
  const after = await leecher.torrent(infoHash)
  const windowSeconds = (Date.now() - beforeAt) / 1000
  const limitedRate = (after.downloaded - before.downloaded) / windowSeconds
  t.ok(limitedRate <= MiB + (2 * MiB + 0.25 * MiB) / windowSeconds, `after "limit --upload 1MiB/s": ${(limitedRate / MiB).toFixed(2)} MiB/s`)
  t.ok(limitedRate > 0, 'and data still flows under the new limit')
  await runCli(['limit', infoHash, '--upload', '0', '--data-dir', seeder.dataDir])
  await seeder.stop()
  await leecher.stop()
})

t.test('a download limit on the leecher holds too', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), [{ path: 'slow.bin', size: 12 * MiB }])
  const seeder = await startDaemon(t)
  const leecher = await startDaemon(t, { args: ['--download-limit', '2MiB/s'] })
  const seeded = JSON.parse((await runCli(['seed', join(work, 'source', 'slow.bin'), '--data-dir', seeder.dataDir, '--json'])).stdout) as TorrentView
  await runCli(['add', seeded.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir])
  const start = await waitFor('data to flow', async () => {
    const torrent = await leecher.torrent(seeded.infoHash)
    return torrent.downloaded > MiB ? { bytes: torrent.downloaded, at: Date.now() } : undefined
  })
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const end = await leecher.torrent(seeded.infoHash)
  const seconds = (Date.now() - start.at) / 1000
  const rate = (end.downloaded - start.bytes) / seconds
  const ceiling = 2 * MiB + (0.5 * MiB + 4 * MiB) / seconds
  t.ok(rate <= ceiling, `measured ${(rate / MiB).toFixed(2)} MiB/s (cap 2, ceiling with in-flight slack ${(ceiling / MiB).toFixed(2)})`)
  await waitComplete(leecher, seeded.infoHash)
})
