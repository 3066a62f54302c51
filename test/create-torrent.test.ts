import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdir, truncate, writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { createTorrentFrom, type CreationProgress } from '../src/engine/create.js'
import { defaultPieceLength, sequentialReads } from '../src/engine/creation-format.js'
import { PieceHasher } from '../src/engine/hasher.js'
import { libtorrentInfoHash, mktorrentInfoHash } from '../testkit/creators.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { writeFixture } from '../testkit/fixture.js'
import { BIN, BIN_NODE_FLAGS, runCli, stopProcess, waitFor } from '../testkit/process.js'

const KiB = 1024
const MiB = 1024 * KiB
/** Nested folders, an empty file, sizes that fall across piece boundaries, a name beyond ASCII. */
const FOLDER = [
  { path: 'pack/a.bin', size: 3 * MiB + 17 },
  { path: 'pack/b/one.dat', size: 100 },
  { path: 'pack/b/zero.txt', size: 0 },
  { path: 'pack/b/deep/two.dat', size: 777_777 },
  { path: 'pack/c_last.bin', size: 65 * KiB },
  { path: 'pack/écran.png', size: 5000 }
]

t.test('the reads cover the files end to end, in whole pieces, skipping empty files', async (t) => {
  const lengths = [0, 5, 100, 0, 31, 0]
  const reads = [...sequentialReads(lengths, 16, 32)]
  t.same(reads.map((read) => [read.firstPiece, read.length]), [[0, 32], [2, 32], [4, 32], [6, 32], [8, 8]])
  const covered = reads.flatMap((read) => read.segments)
  t.ok(covered.every((segment) => segment.length > 0 && lengths[segment.file]! > 0), 'no empty segment, no empty file')
  for (const read of reads) t.equal(read.segments.reduce((sum, segment) => sum + segment.length, 0), read.length)
  const byFile = new Map<number, number>()
  for (const segment of covered) {
    t.equal(segment.position, byFile.get(segment.file) ?? 0, 'each file is read on from where it stopped')
    byFile.set(segment.file, segment.position + segment.length)
  }
  t.same([...byFile], [[1, 5], [2, 100], [4, 31]])
})

t.test('the default piece length is create-torrent\'s (so seed without --piece-length makes the torrent it made)', async (t) => {
  t.equal(defaultPieceLength(1), 16 * KiB)
  t.equal(defaultPieceLength(20 * MiB), 16 * KiB)
  t.equal(defaultPieceLength(512 * MiB), 512 * KiB)
  t.equal(defaultPieceLength(700 * MiB), 512 * KiB)
  t.equal(defaultPieceLength(800 * MiB), MiB)
  t.equal(defaultPieceLength(4 * 1024 * MiB), 4 * MiB)
  t.equal(defaultPieceLength(100 * 1024 * MiB), 4 * MiB)
})

t.test('the same info hash as mktorrent and libtorrent, for a folder and a single file, at several piece lengths', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), [...FOLDER, { path: 'single.bin', size: 2 * MiB + 333 }])
  for (const target of [join(work, 'source', 'pack'), join(work, 'source', 'single.bin')]) {
    for (const pieceLength of [32 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB]) {
      const ours = await createTorrentFrom(target, { pieceLength })
      t.equal(ours.infoHash, await mktorrentInfoHash(work, target, pieceLength), `${target}, ${pieceLength / KiB} KiB pieces: as mktorrent`)
    }
    // mktorrent's smallest is 32 KiB; libtorrent makes 16 KiB pieces too.
    for (const pieceLength of [16 * KiB, 256 * KiB]) {
      const ours = await createTorrentFrom(target, { pieceLength })
      t.equal(ours.infoHash, await libtorrentInfoHash(target, pieceLength), `${target}, ${pieceLength / KiB} KiB pieces: as libtorrent's create_torrent`)
    }
  }
  const folder = await createTorrentFrom(join(work, 'source', 'pack'), { pieceLength: 32 * KiB })
  t.same(folder.files.map((file) => file.path), ['pack/a.bin', 'pack/b/deep/two.dat', 'pack/b/one.dat', 'pack/b/zero.txt', 'pack/c_last.bin', 'pack/écran.png'],
    'depth first, each folder by name (UTF-8 byte order)')
})

t.test('hidden and junk files are left out, as create-torrent left them', async (t) => {
  const work = await tempDir(t)
  const root = join(work, 'source', 'pack')
  await writeFixture(join(work, 'source'), FOLDER)
  const clean = await mktorrentInfoHash(work, root, 64 * KiB)
  await writeFixture(join(work, 'source'), [
    { path: 'pack/.hidden', size: 10 }, { path: 'pack/.DS_Store', size: 20 }, { path: 'pack/Thumbs.db', size: 30 },
    { path: 'pack/b/.git/config', size: 40 }, { path: 'pack/b/desktop.ini', size: 50 }
  ])
  const ours = await createTorrentFrom(root, { pieceLength: 64 * KiB })
  t.equal(ours.infoHash, clean, 'the torrent of the folder without them')
})

t.test('progress is reported from 0 up to every byte, never backwards', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FOLDER)
  const reports: CreationProgress[] = []
  const meta = await createTorrentFrom(join(work, 'source', 'pack'), { pieceLength: 16 * KiB, onProgress: (progress) => reports.push(progress) })
  t.equal(reports[0]?.hashedBytes, 0, 'a first report once the folder is walked')
  t.same(reports.at(-1), { files: FOLDER.length, hashedBytes: meta.length, totalBytes: meta.length }, 'the last one says 100%')
  t.ok(reports.every((report, i) => i === 0 || report.hashedBytes >= reports[i - 1]!.hashedBytes), 'never backwards')
})

t.test('cancelling stops the hashing, and the shared hash threads go on working', async (t) => {
  const work = await tempDir(t)
  // Sparse: no disk, and seconds of hashing.
  const path = join(work, 'big.img')
  await writeFile(path, '')
  await truncate(path, 8 * 1024 * MiB)
  const hasher = new PieceHasher()
  t.teardown(() => hasher.destroy())
  const controller = new AbortController()
  const reports: CreationProgress[] = []
  const creation = createTorrentFrom(path, {
    pieceLength: MiB,
    hasher,
    onProgress: (progress) => {
      reports.push(progress)
      if (progress.hashedBytes > 0) controller.abort()
    }
  }, controller.signal)
  await t.rejects(creation, { code: 'ECANCELLED' })
  const seen = reports.length
  const last = reports.at(-1)!
  t.ok(last.hashedBytes < last.totalBytes, `stopped at ${last.hashedBytes} of ${last.totalBytes} bytes`)
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(reports.length, seen, 'nothing is hashed once it has stopped')
  const [digest] = await hasher.digest(Buffer.from('abc'), [{ algorithm: 'sha1', sliceLength: 3 }])
  t.equal(Buffer.from(digest!).toString('hex'), 'a9993e364706816aba3e25717850c26c9cd0d89d', 'the hash threads still answer')
})

t.test('seed through the daemon: progress lines with --json up to 100%, the info hash mktorrent gives', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), [...FOLDER, { path: 'pack/b/large.bin', size: 24 * MiB }])
  const daemon = await startDaemon(t)
  const root = join(work, 'source', 'pack')
  const seeded = await runCli(['seed', root, '--piece-length', '256KiB', '--data-dir', daemon.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const torrent = JSON.parse(seeded.stdout) as TorrentView
  t.equal(torrent.infoHash, await mktorrentInfoHash(work, root, 256 * KiB), 'as mktorrent')
  const progress = seeded.stderr.trim().split('\n').map((line) => (JSON.parse(line) as { progress: CreationProgress }).progress)
  t.ok(progress.length >= 2, `${progress.length} progress lines on stderr`)
  t.same(progress.at(-1), { files: FOLDER.length + 1, hashedBytes: torrent.length, totalBytes: torrent.length }, 'the last one says 100%')
})

t.test('Ctrl-C on seed cancels the hashing in the daemon', async (t) => {
  const work = await tempDir(t)
  const path = join(work, 'huge.img')
  await mkdir(work, { recursive: true })
  await writeFile(path, '')
  await truncate(path, 64 * 1024 * MiB)
  const daemon = await startDaemon(t)
  const cli = spawn(process.execPath, [...BIN_NODE_FLAGS, BIN, 'seed', path, '--data-dir', daemon.dataDir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => stopProcess(cli, 'SIGKILL'))
  const started = await new Promise<CreationProgress>((resolve, reject) => {
    createInterface({ input: cli.stderr }).on('line', (line) => {
      const { progress } = JSON.parse(line) as { progress?: CreationProgress }
      if (progress && progress.hashedBytes > 0) resolve(progress)
    })
    cli.once('exit', (code) => reject(new Error(`the CLI exited with ${code} before hashing began`)))
  })
  t.ok(started.hashedBytes < started.totalBytes, 'hashing had begun, not ended')
  cli.kill('SIGINT')
  await waitFor('the daemon to stop hashing', () => (daemon.logs().includes('was cancelled') ? true : undefined), 60_000)
  const torrents = await daemon.api.torrents()
  t.same(torrents, [], 'no torrent was made')
  const small = join(work, 'small.bin')
  await writeFixture(work, [{ path: 'small.bin', size: MiB }])
  const seeded = await runCli(['seed', small, '--data-dir', daemon.dataDir, '--json'])
  t.equal(seeded.code, 0, `the daemon seeds again: ${seeded.stderr}`)
})
