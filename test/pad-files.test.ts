import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { parseTorrentFile, type TorrentMeta } from '../src/engine/metainfo.js'
import { startLibtorrent } from '../testkit/clients.js'
import { libtorrentTorrent } from '../testkit/creators.js'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli } from '../testkit/process.js'

const KiB = 1024
// 64 KiB pieces: each pad file after a.bin and c.txt covers whole 16 KiB blocks, and a part of one.
const FILES = [{ path: 'pack/a.bin', size: 1024 * KiB + 5 }, { path: 'pack/c.txt', size: 1234 }, { path: 'pack/sub/b.bin', size: 300_000 }]
const PIECE = 64 * KiB

/** Every file under `root`, relative to it. */
async function filesUnder (root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => relative(root, join(entry.parentPath, entry.name))).sort()
}

/** Anything named .pad (a folder or a file), anywhere under `root`. */
async function padsUnder (root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  return entries.map((entry) => relative(root, join(entry.parentPath, entry.name))).filter((path) => /(^|\/)\.pad(\/|$)|_____padding_file_/.test(path))
}

const OWN_FILES = FILES.map((file) => file.path).sort()

for (const kind of ['v1-padded', 'hybrid'] as const) {
  t.test(`a ${kind} torrent made by libtorrent: its pad files never reach the disk, from a .torrent, a magnet, seeding and a restart`, async (t) => {
    const work = await tempDir(t)
    await writeFixture(join(work, 'source'), FILES)
    const torrentFile = join(work, 'pack.torrent')
    await libtorrentTorrent(join(work, 'source', 'pack'), PIECE, kind, torrentFile)
    const meta: TorrentMeta = await parseTorrentFile(await readFile(torrentFile))
    const pads = meta.files.filter((file) => file.pad)
    t.ok(pads.length >= 2, `libtorrent put ${pads.length} pad files in it (${pads.map((file) => file.path).join(', ')})`)
    t.ok(meta.files.filter((file) => !file.pad).every((file) => !file.path.includes('.pad')), 'and the real files are told apart')

    const seeder = await startLibtorrent(t, ['--mode', 'seed', '--torrent', torrentFile, '--save', join(work, 'source')])
    const peer = `127.0.0.1:${seeder.port}`

    const leecher = await startDaemon(t)
    const added = await runCli(['add', torrentFile, '--out', join(work, 'bt'), '--peer', peer, '--data-dir', leecher.dataDir, '--wait', '--json'])
    t.equal(added.code, 0, added.stderr)
    const done = JSON.parse(added.stdout) as TorrentView
    t.equal(done.hashFailures, 0, 'no piece failed its hash')
    const realBytes = FILES.reduce((sum, file) => sum + file.size, 0)
    // Only a pad file's part of a block that also holds a real file's bytes is asked for.
    t.ok(done.downloaded - done.wasted <= realBytes + pads.length * 16 * KiB, `blocks wholly in pad space are not fetched (${done.downloaded} bytes for ${realBytes} of files in ${meta.length})`)
    t.same(done.files.map((file) => file.path).sort(), OWN_FILES, 'info lists the real files, not the pad files')
    t.same(await sameFiles(join(work, 'source'), join(work, 'bt'), FILES), [], 'the copy from the .torrent is byte-equal')
    t.same(await filesUnder(join(work, 'bt')), OWN_FILES, 'nothing but the torrent\'s own files on disk')
    t.same(await padsUnder(join(work, 'bt')), [], 'no .pad folder or pad file')

    const byMagnet = await startDaemon(t)
    const magnet = `magnet:?xt=urn:btih:${meta.infoHash}&dn=pack`
    const fetched = await runCli(['add', magnet, '--out', join(work, 'magnet'), '--peer', peer, '--data-dir', byMagnet.dataDir, '--wait', '--json'])
    t.equal(fetched.code, 0, fetched.stderr)
    t.same(await sameFiles(join(work, 'source'), join(work, 'magnet'), FILES), [], 'the copy from the magnet is byte-equal')
    t.same(await filesUnder(join(work, 'magnet')), OWN_FILES, 'the magnet made no pad file either')

    // bidtorrent seeds it to libtorrent (pad ranges read as zeros).
    const downloader = await startLibtorrent(t, ['--mode', 'download', '--torrent', torrentFile, '--save', join(work, 'lt'), '--peer', `127.0.0.1:${leecher.peerPort}`])
    const result = await downloader.done
    t.equal(result.failed, 0, 'libtorrent saw no failed piece from bidtorrent')
    t.same(await sameFiles(join(work, 'source'), join(work, 'lt'), FILES), [], 'libtorrent\'s copy from bidtorrent is byte-equal')

    // A restart resumes it complete; a fresh daemon pointed at the data checks it complete.
    await leecher.stop()
    const restarted = await startDaemon(t, { dataDir: leecher.dataDir })
    const resumed = await waitComplete(restarted, meta.infoHash, 60_000)
    t.equal(resumed.piecesFromResume, meta.pieceCount, 'after a restart every piece is verified from resume data')
    const checker = await startDaemon(t)
    const checked = await runCli(['add', torrentFile, '--out', join(work, 'bt'), '--data-dir', checker.dataDir, '--json'])
    t.equal(checked.code, 0, checked.stderr)
    const rechecked = await waitComplete(checker, meta.infoHash, 60_000)
    t.equal(rechecked.piecesFromResume, meta.pieceCount, 'the check of the data on disk finds every piece (pad bytes hashed as zeros)')
    t.equal(rechecked.downloaded, 0, 'and fetches nothing')
    t.same(await filesUnder(join(work, 'bt')), OWN_FILES, 'still no pad file on disk')

    const removed = await runCli(['rm', meta.infoHash, '--delete-data', '--data-dir', restarted.dataDir])
    t.equal(removed.code, 0, removed.stderr)
    t.same(await filesUnder(join(work, 'bt')).catch(() => []), [], 'delete-data leaves nothing behind (and made no .pad to remove)')
  })
}
