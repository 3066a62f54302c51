import t from 'tap'
import { readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { createTorrentFrom } from '../src/engine/create.js'
import { FileSelection, applySelection } from '../src/engine/file-selection.js'
import type { TorrentMeta } from '../src/engine/metainfo.js'
import { pickRarestPiece } from '../src/engine/piece-picker.js'
import { startLibtorrent } from '../testkit/clients.js'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli } from '../testkit/process.js'

const KiB = 1024
const MiB = 1024 * KiB
// 256 KiB pieces: every file boundary falls inside a piece, so wanted and unwanted files share pieces.
const FILES = [
  { path: 'pack/a.bin', size: 3 * MiB + 7 },
  { path: 'pack/b.mkv', size: 2 * MiB + 3 },
  { path: 'pack/c.txt', size: 1234 },
  { path: 'pack/d.bin', size: MiB + 99 }
]
const PIECE = 256 * KiB
const PATHS = FILES.map((file) => file.path)

/** The fixture in `<work>/source/pack` and its .torrent (256 KiB pieces) in `<work>/pack.torrent`. */
async function packTorrent (t: Parameters<typeof tempDir>[0]): Promise<{ work: string, meta: TorrentMeta, torrentFile: string }> {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const meta = await createTorrentFrom(join(work, 'source', 'pack'), { pieceLength: PIECE })
  const torrentFile = join(work, 'pack.torrent')
  await writeFile(torrentFile, meta.torrentFile)
  return { work, meta, torrentFile }
}

async function exists (path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}

t.test('selections: numbers, ranges and globs; only, skip and priorities; clear errors', async (t) => {
  t.same(applySelection(PATHS, undefined, { only: ['1', '3'] }), ['skip', 'normal', 'skip', 'normal'])
  t.same(applySelection(PATHS, undefined, { only: ['*.bin'] }), ['normal', 'skip', 'skip', 'normal'], 'a glob without / matches names')
  t.same(applySelection(PATHS, undefined, { skip: ['pack/*.txt'] }), ['normal', 'normal', 'skip', 'normal'], 'a glob with / matches paths')
  t.same(applySelection(PATHS, undefined, { skip: ['0-1'], priority: { high: ['3'] } }), ['skip', 'skip', 'normal', 'high'])
  t.same(applySelection(PATHS, ['skip', 'normal', 'skip', 'normal'], { priority: { low: ['0'] } }), ['low', 'normal', 'skip', 'normal'], 'a priority wants a skipped file again')
  t.throws(() => applySelection(PATHS, undefined, { only: ['9'] }), /--only 9: there is no file 9 \(the torrent has files 0 to 3/)
  t.throws(() => applySelection(PATHS, undefined, { only: ['*.zip'] }), /--only \*\.zip: no file of the torrent matches it/)
  t.throws(() => applySelection(PATHS, undefined, { skip: ['0-3'] }), /skips every file/)
})

t.test('pieces take the rank of their most wanted file, and the picker takes the highest rank first', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const meta = await createTorrentFrom(join(work, 'source', 'pack'), { pieceLength: PIECE })
  const selection = new FileSelection(meta, ['skip', 'high', 'skip', 'low'])
  const lastOfA = Math.floor((3 * MiB + 6) / PIECE)
  t.equal(selection.pieceRank[0], 0, 'a piece wholly in a skipped file is not wanted')
  t.equal(selection.pieceRank[lastOfA], 3, 'the piece a.bin shares with b.mkv is wanted, for b.mkv')
  t.equal(selection.pieceRank[meta.pieceCount - 1], 1, 'd.bin\'s last piece is low')
  t.equal(selection.wantedBytes, FILES[1]!.size + FILES[3]!.size)
  const rank = (index: number): number => selection.pieceRank[index]!
  const availability = new Uint16Array(meta.pieceCount).fill(5)
  availability[meta.pieceCount - 1] = 1
  const picked = pickRarestPiece({ pieceCount: meta.pieceCount, availability, wanted: () => true, random: () => 0, rank })
  t.equal(rank(picked), 3, 'a high piece comes before a rarer low one')
  const onlyLow = pickRarestPiece({ pieceCount: meta.pieceCount, availability, wanted: (i) => rank(i) !== 3, random: () => 0, rank })
  t.equal(onlyLow, meta.pieceCount - 1, 'among low pieces, the rarest')
})

t.test('only the chosen files are downloaded, from bidtorrent and from libtorrent; the selection survives a restart and can change', async (t) => {
  const { work, meta, torrentFile } = await packTorrent(t)
  const seeder = await startDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'pack'), '--piece-length', '256KiB', '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  t.equal((JSON.parse(seeded.stdout) as TorrentView).infoHash, meta.infoHash)

  const leecher = await startDaemon(t)
  const out = join(work, 'bt')
  const added = await runCli(['add', torrentFile, '--out', out, '--only', '*.mkv', '--only', '3', '--priority', 'high=3',
    '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir, '--wait', '--json'])
  t.equal(added.code, 0, added.stderr)
  const done = JSON.parse(added.stdout) as TorrentView
  t.equal(done.state, 'seeding', 'done once the chosen files are: it seeds what it has')
  t.same(done.files.map((file) => file.priority), ['skip', 'normal', 'skip', 'high'], 'info shows each file\'s priority')
  // c.txt lies wholly in the piece b.mkv and d.bin share: verified, and kept in the parts file.
  t.same(done.files.map((file) => file.verified === file.length), [false, true, true, true], 'and its verified bytes')
  t.equal(done.wantedLength, FILES[1]!.size + FILES[3]!.size, 'status shows the chosen bytes')
  t.equal(done.wantedVerified, done.wantedLength)
  t.ok(done.verifiedPieces < meta.pieceCount, `only part of the torrent was fetched (${done.verifiedPieces} of ${meta.pieceCount} pieces)`)
  t.same(await sameFiles(join(work, 'source'), out, [FILES[1]!, FILES[3]!]), [], 'the chosen files are byte-equal')
  t.same((await readdir(join(out, 'pack'))).sort(), ['b.mkv', 'd.bin'], 'the skipped files are not created')
  const parts = await readdir(join(leecher.dataDir, 'parts'))
  t.same(parts, [`${meta.infoHash}.parts`], 'the bytes of skipped files in shared pieces are kept apart, in the daemon\'s state')

  // By magnet, from the leecher alone (it seeds what it has, metadata too): the selection waits for the metadata.
  const byMagnet = await startDaemon(t)
  const magnet = `magnet:?xt=urn:btih:${meta.infoHash}&dn=pack`
  const fetched = await runCli(['add', magnet, '--out', join(work, 'magnet'), '--only', 'b.mkv', '--peer', `127.0.0.1:${leecher.peerPort}`, '--data-dir', byMagnet.dataDir, '--wait', '--json'])
  t.equal(fetched.code, 0, fetched.stderr)
  t.same((JSON.parse(fetched.stdout) as TorrentView).files.map((file) => file.priority), ['skip', 'normal', 'skip', 'skip'], 'a selection given with a magnet applies once the metadata is in')
  t.same(await readdir(join(work, 'magnet', 'pack')), ['b.mkv'], 'by magnet too, only the chosen file is created')
  t.same(await sameFiles(join(work, 'source'), join(work, 'magnet'), [FILES[1]!]), [], 'byte-equal')

  await leecher.stop()
  const restarted = await startDaemon(t, { dataDir: leecher.dataDir })
  const resumed = await waitComplete(restarted, meta.infoHash, 60_000)
  t.same(resumed.files.map((file) => file.priority), ['skip', 'normal', 'skip', 'high'], 'a restart keeps the selection')
  t.equal(resumed.state, 'seeding')
  t.notOk(await exists(join(out, 'pack', 'a.bin')), 'and creates no skipped file')

  const changed = await runCli(['files', meta.infoHash, '--priority', 'normal=0', '--data-dir', restarted.dataDir, '--json'])
  t.equal(changed.code, 0, changed.stderr)
  await runCli(['wait', meta.infoHash, '--data-dir', restarted.dataDir, '--json'])
  const after = await waitComplete(restarted, meta.infoHash, 120_000)
  t.same(after.files.map((file) => file.priority), ['normal', 'normal', 'skip', 'high'])
  t.same(await sameFiles(join(work, 'source'), out, [FILES[0]!, FILES[1]!, FILES[3]!]), [], 'the newly wanted file is fetched (its shared piece moved from the parts file), byte-equal')
  t.notOk(await exists(join(out, 'pack', 'c.txt')), 'c.txt is still skipped')
  const listed = await runCli(['files', meta.infoHash, '--data-dir', restarted.dataDir])
  t.match(listed.stdout, /0 {2}normal {2}100\.0%.*pack\/a\.bin/, '`files` lists numbers, priorities and progress')
  t.match(listed.stdout, /2 {2}skip/)

  // From libtorrent: skip one file.
  const libtorrent = await startLibtorrent(t, ['--mode', 'seed', '--torrent', torrentFile, '--save', join(work, 'source')])
  const other = await startDaemon(t)
  const fromLt = await runCli(['add', torrentFile, '--out', join(work, 'lt'), '--skip', '0', '--peer', `127.0.0.1:${libtorrent.port}`, '--data-dir', other.dataDir, '--wait', '--json'])
  t.equal(fromLt.code, 0, fromLt.stderr)
  t.same(await sameFiles(join(work, 'source'), join(work, 'lt'), FILES.slice(1)), [], 'from libtorrent, the chosen files are byte-equal')
  t.notOk(await exists(join(work, 'lt', 'pack', 'a.bin')), 'the skipped file is not created')
})

t.test('bad file selections get a clear CLI error and add nothing', async (t) => {
  const { work, torrentFile } = await packTorrent(t)
  const daemon = await startDaemon(t)
  const cases: Array<[string[], RegExp]> = [
    [['--only', '9'], /--only 9: there is no file 9 \(the torrent has files 0 to 3/],
    [['--only', '*.zip'], /--only \*\.zip: no file of the torrent matches it/],
    [['--only', '1,,2'], /--only "1,,2": an empty file selector/],
    [['--priority', 'urgent=1'], /--priority "urgent=1": give LEVEL=FILES with a level of low, normal, high/],
    [['--skip', '0-3'], /skips every file/]
  ]
  for (const [flags, message] of cases) {
    const result = await runCli(['add', torrentFile, '--out', join(work, 'out'), ...flags, '--data-dir', daemon.dataDir])
    t.equal(result.code, 2, `${flags.join(' ')}: a usage error`)
    t.match(result.stderr, message, `${flags.join(' ')}: says why`)
  }
  const listed = await runCli(['ls', '--data-dir', daemon.dataDir, '--json'])
  t.same(JSON.parse(listed.stdout), [], 'no torrent was added')
  t.notOk(await exists(join(work, 'out')), 'and no folder made')

  // The control API checks its bodies too.
  const added = await runCli(['add', torrentFile, '--out', join(work, 'out'), '--paused', '--data-dir', daemon.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  const { infoHash } = JSON.parse(added.stdout) as TorrentView
  const files = (body: unknown): Promise<unknown> => daemon.api.request('POST', `/v1/torrents/${infoHash}/files`, body)
  await t.rejects(files({}), /say which files: only, skip or priority/, 'an empty change is refused')
  await t.rejects(files({ only: [''] }), /only\.0: an empty file selector/, 'an empty selector is refused')
  await t.rejects(files({ priority: { urgent: ['1'] } }), /priority: Unrecognized key/i, 'an unknown level is refused')
  await t.rejects(files({ skip: ['7'] }), /--skip 7: there is no file 7/, 'a file that is not there is refused')
})
