import t from 'tap'
import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { parseTorrentFile } from '../src/engine/metainfo.js'
import { SYSTEM_PYTHON, startLibtorrent } from '../testkit/clients.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { sameFiles, writeFixture, type FixtureFile } from '../testkit/fixture.js'
import { runCli } from '../testkit/process.js'

const KiB = 1024
// Files that end mid-piece, mid-block, one shorter than a block, and an empty one: every alignment case of BEP 52.
const FILES: FixtureFile[] = [
  { path: 'v2pack/a.bin', size: 300 * KiB + 5 },
  { path: 'v2pack/c.txt', size: 6 },
  { path: 'v2pack/empty.txt', size: 0 },
  { path: 'v2pack/nested/b.bin', size: 70 * KiB }
]
const PIECE = 64 * KiB

/** libtorrent's create_torrent over `<work>/source/v2pack` (testkit/lt_create.py): the .torrent and its info hashes. */
async function libtorrentTorrent (work: string, format: 'v2' | 'hybrid'): Promise<{ file: string, v1: string | null, v2: string }> {
  const file = join(work, `${format}.torrent`)
  const child = spawn(SYSTEM_PYTHON, [new URL('../../testkit/lt_create.py', import.meta.url).pathname, '--format', format, '--piece-length', String(PIECE), join(work, 'source', 'v2pack'), file])
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`lt_create.py exited with ${code}`)
  return { file, ...(JSON.parse(out) as { v1: string | null, v2: string }) }
}

async function padsOnDisk (root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true })
  return entries.filter((entry) => entry.split('/').includes('.pad'))
}

for (const format of ['v2', 'hybrid'] as const) {
  t.test(`a ${format} torrent made by libtorrent: bidtorrent reads its hashes, downloads it from libtorrent and seeds it to libtorrent`, async (t) => {
    const work = await tempDir(t)
    await writeFixture(join(work, 'source'), FILES)
    const made = await libtorrentTorrent(work, format)
    const meta = await parseTorrentFile(await readFile(made.file))
    t.equal(meta.v2?.infoHash, made.v2, 'the v2 info hash is libtorrent\'s')
    t.equal(meta.infoHash, made.v1 ?? made.v2.slice(0, 40), 'the swarm\'s hash: v1 for a hybrid, the truncated v2 hash for v2-only')
    t.ok(meta.torrentFile.equals(await readFile(made.file)), 'the .torrent is kept byte for byte (piece layers too)')

    const seeder = await startLibtorrent(t, ['--mode', 'seed', '--torrent', made.file, '--save', join(work, 'source')])
    const leecher = await startDaemon(t)
    const added = await runCli(['add', made.file, '--out', join(work, 'bt'), '--peer', `127.0.0.1:${seeder.port}`, '--data-dir', leecher.dataDir, '--wait', '--json'])
    t.equal(added.code, 0, added.stderr)
    const done = JSON.parse(added.stdout) as TorrentView
    t.equal(done.hashFailures, 0, 'every piece passed its merkle check')
    t.same(await sameFiles(join(work, 'source'), join(work, 'bt'), FILES), [], 'bidtorrent\'s copy is byte-equal')
    t.same(await padsOnDisk(join(work, 'bt')), [], 'no pad file on disk')

    const exported = await runCli(['export', meta.infoHash, join(work, 'exported.torrent'), '--data-dir', leecher.dataDir])
    t.equal(exported.code, 0, exported.stderr)
    t.ok((await readFile(join(work, 'exported.torrent'))).equals(await readFile(made.file)), 'export gives back the original .torrent')

    const downloader = await startLibtorrent(t, ['--mode', 'download', '--torrent', made.file, '--save', join(work, 'lt'), '--peer', `127.0.0.1:${leecher.peerPort}`])
    const result = await downloader.done
    t.equal(result.failed, 0, 'libtorrent saw no failed pieces')
    t.same(await sameFiles(join(work, 'source'), join(work, 'lt'), FILES), [], 'libtorrent\'s copy from bidtorrent is byte-equal')

    const info = await runCli(['info', meta.infoHash, '--data-dir', leecher.dataDir])
    t.match(info.stdout, new RegExp(`v2 hash: +${made.v2}`), 'info shows the v2 hash')
    t.match(info.stdout, new RegExp(`version: +${format}`), 'and the version')
    if (format === 'v2') {
      // After the metadata (ut_metadata), libtorrent asks for the piece layers with hash requests (BEP 52): we answer from ours.
      const byMagnet = await startLibtorrent(t, ['--mode', 'download', '--magnet', `magnet:?xt=urn:btmh:1220${made.v2}`, '--save', join(work, 'lt-magnet'), '--peer', `127.0.0.1:${leecher.peerPort}`])
      t.equal((await byMagnet.done).failed, 0, 'libtorrent fetched the v2-only torrent from bidtorrent by magnet: metadata and piece layers')
      t.same(await sameFiles(join(work, 'source'), join(work, 'lt-magnet'), FILES), [], 'byte-equal')

      const magnetLeecher = await startDaemon(t)
      const fetched = await runCli(['add', `magnet:?xt=urn:btmh:1220${made.v2}`, '--out', join(work, 'bt-magnet'), '--peer', `127.0.0.1:${seeder.port}`, '--data-dir', magnetLeecher.dataDir, '--wait', '--json'])
      t.equal(fetched.code, 0, fetched.stderr)
      t.equal((JSON.parse(fetched.stdout) as TorrentView).hashFailures, 0, 'every piece passed its merkle check against piece layers fetched from libtorrent')
      t.same(await sameFiles(join(work, 'source'), join(work, 'bt-magnet'), FILES), [], 'bidtorrent fetched a v2-only magnet from libtorrent, byte-equal')
      t.same(await padsOnDisk(join(work, 'bt-magnet')), [], 'with no pad file on disk')
    }
    if (format === 'hybrid') {
      const magnetLeecher = await startDaemon(t)
      const byMagnet = await runCli(['add', `magnet:?xt=urn:btih:${made.v1!}&xt=urn:btmh:1220${made.v2}`, '--out', join(work, 'bt-magnet'), '--peer', `127.0.0.1:${seeder.port}`, '--data-dir', magnetLeecher.dataDir, '--wait', '--json'])
      t.equal(byMagnet.code, 0, byMagnet.stderr)
      t.same(await sameFiles(join(work, 'source'), join(work, 'bt-magnet'), FILES), [], 'a hybrid magnet fetched from libtorrent is byte-equal')
      t.same(await padsOnDisk(join(work, 'bt-magnet')), [], 'with no pad file on disk')
      // A peer that knows only the v2 hash greets us with its first 20 bytes: the hybrid's other swarm.
      const v2Only = await startLibtorrent(t, ['--mode', 'download', '--magnet', `magnet:?xt=urn:btmh:1220${made.v2}`, '--save', join(work, 'lt-v2'), '--peer', `127.0.0.1:${leecher.peerPort}`])
      t.equal((await v2Only.done).failed, 0, 'libtorrent joined by the v2 hash, took the metadata from us and downloaded')
      t.same(await sameFiles(join(work, 'source'), join(work, 'lt-v2'), FILES), [], 'byte-equal through the v2 swarm')
    }
  })
}

t.test('a hybrid torrent made by bidtorrent (seed --format hybrid): libtorrent\'s info hashes, and libtorrent downloads it from bidtorrent', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const made = await libtorrentTorrent(work, 'hybrid')
  const seeder = await startDaemon(t)
  const ours = join(work, 'ours.torrent')
  const seeded = await runCli(['seed', join(work, 'source', 'v2pack'), '--format', 'hybrid', '--piece-length', String(PIECE), '--save-torrent', ours, '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const view = JSON.parse(seeded.stdout) as TorrentView
  t.same([view.infoHash, view.infoHashV2, view.version], [made.v1, made.v2, 'hybrid'], 'both info hashes are those of libtorrent\'s create_torrent')
  const downloader = await startLibtorrent(t, ['--mode', 'download', '--torrent', ours, '--save', join(work, 'lt'), '--peer', `127.0.0.1:${seeder.peerPort}`])
  t.equal((await downloader.done).failed, 0, 'libtorrent saw no failed pieces')
  t.same(await sameFiles(join(work, 'source'), join(work, 'lt'), FILES), [], 'libtorrent\'s copy is byte-equal')
  t.same(await padsOnDisk(join(work, 'source')), [], 'seeding put no pad file beside the user\'s files')
})
