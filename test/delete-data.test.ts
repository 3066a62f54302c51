import { access, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { writeFixture } from '../testkit/fixture.js'
import { runCli } from '../testkit/process.js'

const exists = async (path: string): Promise<boolean> => access(path).then(() => true, () => false)

t.test('rm --delete-data removes exactly the torrent\'s files and the folders left empty, never a file beside or inside them that is not the torrent\'s', async (t) => {
  const work = await tempDir(t)
  const files = [{ path: 'pack/a.bin', size: 300_000 }, { path: 'pack/sub/b.bin', size: 200_000 }, { path: 'pack/deep/er/c.bin', size: 100_000 }]
  await writeFixture(join(work, 'source'), files)
  const seeder = await startDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'pack'), '--save-torrent', join(work, 'pack.torrent'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash } = JSON.parse(seeded.stdout) as { infoHash: string }

  // The download directory already holds a folder named like the torrent, with files of its own.
  const out = join(work, 'out')
  await mkdir(join(out, 'pack', 'sub'), { recursive: true })
  await writeFile(join(out, 'pack', 'mine.txt'), 'not the torrent\'s')
  await writeFile(join(out, 'pack', 'sub', 'notes.txt'), 'not the torrent\'s either')
  await writeFile(join(out, 'beside.txt'), 'beside the torrent')
  const leecher = await startDaemon(t)
  const added = await runCli(['add', join(work, 'pack.torrent'), '--out', out, '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir])
  t.equal(added.code, 0, added.stderr)
  await waitComplete(leecher, infoHash)
  const removed = await runCli(['rm', infoHash, '--delete-data', '--data-dir', leecher.dataDir])
  t.equal(removed.code, 0, removed.stderr)
  for (const file of files) t.notOk(await exists(join(out, file.path)), `${file.path} (the torrent's) is deleted`)
  t.ok(await exists(join(out, 'pack', 'mine.txt')), 'a foreign file inside the torrent\'s folder stays')
  t.ok(await exists(join(out, 'pack', 'sub', 'notes.txt')), 'a foreign file in a subfolder stays')
  t.ok(await exists(join(out, 'beside.txt')), 'a file beside the torrent stays')
  t.notOk(await exists(join(out, 'pack', 'deep')), 'a folder left empty is removed, its empty parent too')
  t.ok(await exists(out), 'the download directory itself stays')

  // A torrent whose folder held only its own files leaves no folder behind.
  const clean = join(work, 'clean')
  const again = await runCli(['add', join(work, 'pack.torrent'), '--out', clean, '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir])
  t.equal(again.code, 0, again.stderr)
  await waitComplete(leecher, infoHash)
  await runCli(['rm', infoHash, '--delete-data', '--data-dir', leecher.dataDir])
  t.notOk(await exists(join(clean, 'pack')), 'its folder, empty once its files are gone, is removed')
  t.ok(await exists(clean), 'but not the download directory')
})
