import t from 'tap'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli } from '../testkit/process.js'

const FILES = [
  { path: 'release/big.bin', size: 70 * 1024 * 1024 + 12_345 },
  { path: 'release/docs/readme.txt', size: 3_000 },
  { path: 'release/docs/empty.txt', size: 0 },
  { path: 'release/assets/medium.bin', size: 5 * 1024 * 1024 + 1 }
]

t.test('one daemon seeds a multi-file folder, another fetches it by magnet link and a direct peer', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  const leecher = await startDaemon(t)

  const seeded = await runCli(['seed', join(work, 'source', 'release'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, `seed exits 0 (${seeded.stderr})`)
  const torrent = JSON.parse(seeded.stdout) as TorrentView
  t.match(torrent.infoHash, /^[0-9a-f]{40}$/)
  t.match(torrent.magnet, /^magnet:\?xt=urn:btih:[0-9a-f]{40}/)
  t.equal(torrent.files.length, 4, 'all four files are in the torrent')

  const out = join(work, 'downloads')
  const fetched = await runCli(['add', torrent.magnet, '--data-dir', leecher.dataDir, '--out', out,
    '--peer', `127.0.0.1:${seeder.peerPort}`, '--wait', '--json'])
  t.equal(fetched.code, 0, `add --wait exits 0 once complete (${fetched.stderr})`)
  const done = JSON.parse(fetched.stdout) as TorrentView
  t.equal(done.verifiedPieces, done.pieceCount, 'every piece verified')
  t.equal(done.state, 'seeding', 'the finished download is seeded')
  t.same(await sameFiles(join(work, 'source'), out, FILES), [], 'every file is byte-equal to the original')

  const listed = await runCli(['ls', '--data-dir', leecher.dataDir, '--json'])
  t.equal((JSON.parse(listed.stdout) as TorrentView[])[0]?.infoHash, torrent.infoHash, 'ls shows the torrent')
  const info = await runCli(['info', torrent.infoHash.slice(0, 8), '--data-dir', seeder.dataDir])
  t.match(info.stdout, /state:\s+seeding/, 'info by prefix shows the seeder seeding')
})
