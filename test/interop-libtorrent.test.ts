import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { createTorrentFrom } from '../src/engine/create.js'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { startLibtorrent, startOpentracker, waitForTrackerSeeder } from '../testkit/clients.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli, stopProcess, waitFor } from '../testkit/process.js'

const MiB = 1024 * 1024
const FILES = [{ path: 'pack/a.bin', size: 24 * MiB + 5 }, { path: 'pack/nested/b.bin', size: 9 * MiB }, { path: 'pack/c.txt', size: 1234 }]

t.test('libtorrent downloads from bidtorrent by magnet link (metadata from us too)', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'pack'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { magnet } = JSON.parse(seeded.stdout) as TorrentView
  const libtorrent = await startLibtorrent(t, ['--mode', 'download', '--magnet', magnet, '--save', join(work, 'lt'), '--peer', `127.0.0.1:${seeder.peerPort}`])
  const result = await libtorrent.done
  t.equal(result.failed, 0, 'libtorrent saw no failed pieces')
  t.same(await sameFiles(join(work, 'source'), join(work, 'lt'), FILES), [], 'libtorrent\'s copy is byte-equal')
})

t.test('bidtorrent downloads from a libtorrent seeder', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const meta = await createTorrentFrom(join(work, 'source', 'pack'))
  const torrentFile = join(work, 'pack.torrent')
  await (await import('node:fs/promises')).writeFile(torrentFile, meta.torrentFile)
  const libtorrent = await startLibtorrent(t, ['--mode', 'seed', '--torrent', torrentFile, '--save', join(work, 'source')])
  const leecher = await startDaemon(t)
  const added = await runCli(['add', torrentFile, '--out', join(work, 'bt'), '--peer', `127.0.0.1:${libtorrent.port}`, '--data-dir', leecher.dataDir, '--wait', '--json'])
  t.equal(added.code, 0, added.stderr)
  const done = JSON.parse(added.stdout) as TorrentView
  t.equal(done.hashFailures, 0)
  t.same(await sameFiles(join(work, 'source'), join(work, 'bt'), FILES), [], 'bidtorrent\'s copy is byte-equal')
  const uploadedByLibtorrent = await waitFor('libtorrent to report its upload', () => {
    const progress = libtorrent.lines.map((line) => JSON.parse(line) as { event: string; uploaded?: number }).filter((event) => event.event === 'progress')
    const uploaded = progress.at(-1)?.uploaded ?? 0
    return uploaded >= meta.length ? uploaded : undefined
  }, 30_000)
  t.ok(uploadedByLibtorrent >= meta.length, `libtorrent uploaded the whole torrent (${uploadedByLibtorrent} bytes)`)
})

t.test('libtorrent finds a bidtorrent seeder through a UDP tracker (opentracker)', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  // The info hash does not depend on trackers, so it can go on the whitelist before the seeder announces.
  const { infoHash } = await createTorrentFrom(join(work, 'source', 'pack'))
  const tracker = await startOpentracker(t, work, [infoHash])
  const seeder = await startDaemon(t)
  const torrentFile = join(work, 'tracked.torrent')
  const seeded = await runCli(['seed', join(work, 'source', 'pack'), '--tracker', tracker.udp, '--save-torrent', torrentFile, '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  t.equal((JSON.parse(seeded.stdout) as TorrentView).infoHash, infoHash)
  const torrentText = (await readFile(torrentFile)).toString('latin1')
  t.match(torrentText, tracker.udp, 'the torrent names the UDP tracker')
  await waitForTrackerSeeder(tracker, infoHash)
  const libtorrent = await startLibtorrent(t, ['--mode', 'download', '--torrent', torrentFile, '--save', join(work, 'lt')])
  const result = await libtorrent.done
  t.equal(result.failed, 0)
  t.same(await sameFiles(join(work, 'source'), join(work, 'lt'), FILES), [], 'byte-equal through the tracker')
  const seederView = await waitComplete(seeder, infoHash)
  t.ok(seederView.uploaded >= 33 * MiB, 'the bytes came from bidtorrent')
})

t.test('libtorrent that insists on an encrypted handshake (MSE) downloads from bidtorrent, with plaintext or RC4 payload', async (t) => {
  const work = await tempDir(t)
  const small = [{ path: 'secret/data.bin', size: 3 * MiB + 17 }]
  await writeFixture(join(work, 'source'), small)
  const seeder = await startDaemon(t)
  const torrentFile = join(work, 'secret.torrent')
  const seeded = await runCli(['seed', join(work, 'source', 'secret'), '--save-torrent', torrentFile, '--data-dir', seeder.dataDir])
  t.equal(seeded.code, 0, seeded.stderr)
  for (const level of ['forced-any', 'forced-rc4']) {
    const out = join(work, level)
    const libtorrent = await startLibtorrent(t, ['--mode', 'download', '--torrent', torrentFile, '--save', out, '--peer', `127.0.0.1:${seeder.peerPort}`, '--encryption', level])
    const result = await libtorrent.done
    t.equal(result.failed, 0, `${level}: no failed pieces`)
    t.same(await sameFiles(join(work, 'source'), out, small), [], `${level}: byte-equal`)
    await stopProcess(libtorrent.process)
  }
})
