import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { parseTorrentFile } from '../src/engine/metainfo.js'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { aria2Download, freePort, startOpentracker, waitForTrackerSeeder } from '../testkit/clients.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { run, runCli } from '../testkit/process.js'

const MiB = 1024 * 1024
const FILES = [{ path: 'patch/data.bin', size: 20 * MiB + 99 }, { path: 'patch/manifest.txt', size: 4321 }]

t.test('a torrent made by mktorrent is checked and seeded from data on disk; aria2c and bidtorrent fetch it through opentracker', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  // The tracker must know the info hash first, and mktorrent needs the URL: make it twice on a reserved port.
  const torrentFile = join(work, 'patch.torrent')
  const draft = await run('mktorrent', ['-l', '18', '-a', 'http://127.0.0.1:1/announce', '-o', join(work, 'draft.torrent'), join(work, 'source', 'patch')])
  t.equal(draft.code, 0, draft.stderr)
  const { infoHash } = await parseTorrentFile(await readFile(join(work, 'draft.torrent')))
  const tracker = await startOpentracker(t, work, [infoHash])
  const made = await run('mktorrent', ['-l', '18', '-a', tracker.http, '-o', torrentFile, join(work, 'source', 'patch')])
  t.equal(made.code, 0, made.stderr)
  const meta = await parseTorrentFile(await readFile(torrentFile))
  t.equal(meta.infoHash, infoHash)
  t.equal(meta.pieceLength, 256 * 1024, 'mktorrent\'s piece length is kept')

  const seeder = await startDaemon(t)
  const added = await runCli(['add', torrentFile, '--out', join(work, 'source'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  const checked = await waitComplete(seeder, infoHash, 120_000)
  t.equal(checked.state, 'seeding', 'data already on disk is checked and seeded')
  t.equal(checked.downloaded, 0, 'nothing was downloaded for it')
  await waitForTrackerSeeder(tracker, infoHash)

  const aria = await aria2Download(torrentFile, join(work, 'aria'), await freePort())
  t.equal(aria.code, 0, `aria2c exits 0: ${aria.output.slice(-500)}`)
  t.same(await sameFiles(join(work, 'source'), join(work, 'aria'), FILES), [], 'aria2c\'s copy is byte-equal')

  const leecher = await startDaemon(t)
  const fetched = await runCli(['add', torrentFile, '--out', join(work, 'bt'), '--data-dir', leecher.dataDir, '--wait', '--json'])
  t.equal(fetched.code, 0, fetched.stderr)
  t.equal((JSON.parse(fetched.stdout) as TorrentView).verifiedPieces, meta.pieceCount)
  t.same(await sameFiles(join(work, 'source'), join(work, 'bt'), FILES), [], 'bidtorrent found the seeder through the tracker alone and got a byte-equal copy')
  const seederView = await seeder.torrent(infoHash)
  t.ok(seederView.uploaded >= 2 * (20 * MiB), `the seeder served both (${seederView.uploaded} bytes)`)
})
