import t from 'tap'
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli, waitFor } from '../testkit/process.js'

const FILES = [{ path: 'life/a.bin', size: 24 * 1024 * 1024 }, { path: 'life/b.bin', size: 1024 * 1024 }]

t.test('pause, a clean SIGTERM stop that flushes state, restart, resume, and rm --delete-data', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'life'), '--upload-limit', '4MiB/s', '--data-dir', seeder.dataDir, '--json'])
  const { infoHash, magnet } = JSON.parse(seeded.stdout) as TorrentView
  const leecherDir = await tempDir(t)
  const out = join(work, 'out')
  const first = await startDaemon(t, { dataDir: leecherDir })
  await runCli(['add', magnet, '--out', out, '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecherDir])
  await waitFor('a quarter of the download', async () => {
    const torrent = await first.torrent(infoHash)
    return torrent.pieceCount && torrent.verifiedPieces >= torrent.pieceCount / 4 ? true : undefined
  })

  const paused = await runCli(['pause', infoHash.slice(0, 10), '--data-dir', leecherDir, '--json'])
  t.equal(paused.code, 0, paused.stderr)
  t.equal((JSON.parse(paused.stdout) as TorrentView).state, 'paused')
  const atPause = await first.torrent(infoHash)
  t.equal(atPause.peers, 0, 'a paused torrent has no peers')
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal((await first.torrent(infoHash)).verifiedPieces, atPause.verifiedPieces, 'and makes no progress')

  await first.stop()
  t.equal(first.process.exitCode, 0, 'SIGTERM: the daemon exits 0')
  await t.rejects(access(join(leecherDir, 'api.json')), 'and removes its API file')

  const second = await startDaemon(t, { dataDir: leecherDir })
  const restored = await second.torrent(infoHash)
  t.equal(restored.state, 'paused', 'still paused after the restart')
  t.equal(restored.verifiedPieces, atPause.verifiedPieces, 'every piece verified before the stop came back')
  const resumed = await runCli(['resume', infoHash, '--data-dir', leecherDir, '--json'])
  t.equal(resumed.code, 0, resumed.stderr)
  const done = await waitComplete(second, infoHash)
  t.equal(done.piecesDownloaded, done.pieceCount! - atPause.verifiedPieces, 'only the rest was downloaded')
  t.same(await sameFiles(join(work, 'source'), out, FILES), [], 'byte-equal')

  const removed = await runCli(['rm', infoHash, '--delete-data', '--data-dir', leecherDir, '--json'])
  t.equal(removed.code, 0, removed.stderr)
  const listed = JSON.parse((await runCli(['ls', '--data-dir', leecherDir, '--json'])).stdout) as TorrentView[]
  t.same(listed, [], 'gone from the list')
  await t.rejects(readFile(join(out, 'life', 'a.bin')), 'and its files are deleted')
  await t.resolves(readFile(join(work, 'source', 'life', 'a.bin')), 'the seeder\'s copy is untouched')
})
