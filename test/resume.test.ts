import t from 'tap'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { seedFile, startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli, waitFor } from '../testkit/process.js'

const FILES = [{ path: 'set/one.bin', size: 30 * 1024 * 1024 }, { path: 'set/two.bin', size: 18 * 1024 * 1024 + 777 }]

t.test('a downloader killed with SIGKILL halfway resumes without fetching verified pieces again', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  // The seeder's cap makes the download last long enough to be cut in half.
  const seeded = await runCli(['seed', join(work, 'source', 'set'), '--upload-limit', '4MiB/s', '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash, magnet } = JSON.parse(seeded.stdout) as TorrentView

  const leecherDir = await tempDir(t)
  const out = join(work, 'out')
  const env = { BIDTORRENT_RESUME_SAVE_INTERVAL_SECONDS: '1' }
  const first = await startDaemon(t, { dataDir: leecherDir, env })
  const added = await runCli(['add', magnet, '--out', out, '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecherDir])
  t.equal(added.code, 0, added.stderr)

  const halfway = await waitFor('the download to pass 40%', async () => {
    const torrent = await first.torrent(infoHash)
    return torrent.pieceCount && torrent.verifiedPieces / torrent.pieceCount >= 0.4 ? torrent : undefined
  })
  // Pieces verified now are at least three resume saves old when the kill comes.
  const verifiedBeforeKill = halfway.verifiedPieces
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const atKill = await first.torrent(infoHash)
  await first.kill()
  t.ok(atKill.verifiedPieces < atKill.pieceCount!, `killed before the end (${atKill.verifiedPieces}/${atKill.pieceCount})`)

  const second = await startDaemon(t, { dataDir: leecherDir, env })
  const done = await waitComplete(second, infoHash)
  t.ok(done.piecesFromResume >= verifiedBeforeKill, `pieces verified before the kill came back from resume data (${done.piecesFromResume} >= ${verifiedBeforeKill})`)
  t.equal(done.piecesDownloaded, done.pieceCount! - done.piecesFromResume, 'only the missing pieces were downloaded again')
  t.ok(done.downloaded <= (done.pieceCount! - done.piecesFromResume) * done.pieceLength! + 2 * 1024 * 1024, `bytes fetched after restart cover only the missing pieces (${done.downloaded})`)
  t.same(await sameFiles(join(work, 'source'), out, FILES), [], 'the files are byte-equal')
})

t.test('four SIGKILLs during a download, at the default resume interval, lose no verified piece: each restart has every piece verified before its kill', async (t) => {
  const seeder = await startDaemon(t)
  const { work, files, torrent: { infoHash, magnet } } = await seedFile(t, seeder, 'kills.bin', 48 * 1024 * 1024, ['--upload-limit', '3MiB/s'])
  const leecherDir = await tempDir(t)
  const out = join(work, 'out')
  let daemon = await startDaemon(t, { dataDir: leecherDir })
  t.equal((await runCli(['add', magnet, '--out', out, '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecherDir])).code, 0)
  let fetched = 0
  for (let kill = 1; kill <= 4; kill++) {
    // Kill well inside the 5 s between resume saves: only the per-piece record can bring these back.
    await new Promise((resolve) => setTimeout(resolve, 1500 + kill * 300))
    const before = await daemon.torrent(infoHash)
    fetched += before.piecesDownloaded
    await daemon.kill()
    daemon = await startDaemon(t, { dataDir: leecherDir })
    const after = await waitFor('the restarted daemon to check its data', async () => {
      const view = await daemon.torrent(infoHash)
      return view.state !== 'checking' && view.pieceCount !== null ? view : undefined
    }, 60_000)
    t.ok(after.piecesFromResume >= before.verifiedPieces, `kill ${kill}: every piece verified before it is there after the restart (${after.piecesFromResume} >= ${before.verifiedPieces})`)
  }
  const done = await waitComplete(daemon, infoHash)
  fetched += done.piecesDownloaded
  t.same(await sameFiles(join(work, 'source'), out, files), [], 'the file is byte-equal')
  t.ok(fetched <= done.pieceCount!, `no piece was fetched twice (${fetched} fetched for ${done.pieceCount} pieces; pieces verified between a status read and its kill are counted in neither run)`)
})
