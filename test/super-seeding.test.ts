import t from 'tap'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { pieceToOffer } from '../src/engine/super-seeding.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli } from '../testkit/process.js'

t.test('the piece to offer: one the peer lacks, held or offered least, ties spread at random', async (t) => {
  const copies = [3, 1, 0, 0, 2]
  t.equal(pieceToOffer(5, () => true, (piece) => copies[piece]!, () => 0.99), 2, 'the first of the rarest when the draw keeps it')
  t.equal(pieceToOffer(5, () => true, (piece) => copies[piece]!, () => 0), 3, 'or the other rarest')
  t.equal(pieceToOffer(5, (piece) => piece !== 2 && piece !== 3, (piece) => copies[piece]!, Math.random), 1, 'not one the peer has or was offered')
  t.equal(pieceToOffer(5, () => false, () => 0, Math.random), undefined, 'nothing when it lacks nothing')
  const drawn = new Set<number>()
  for (let i = 0; i < 200; i++) drawn.add(pieceToOffer(4, () => true, () => 0, Math.random)!)
  t.same([...drawn].sort(), [0, 1, 2, 3], 'every tied piece gets drawn')
})

t.test('a lone seed super-seeding to three downloaders sends each piece about once; they trade the rest and finish byte-equal', async (t) => {
  const work = await tempDir(t)
  const FILES = [{ path: 'patch/game.pak', size: 12 * 1024 * 1024 }]
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  const downloaders = [await startDaemon(t), await startDaemon(t), await startDaemon(t)]
  const seeded = await runCli(['seed', join(work, 'source', 'patch'), '--super-seed', '--piece-length', '256KiB', '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const torrent = JSON.parse(seeded.stdout) as TorrentView
  t.equal(torrent.superSeeding, true, 'the seeder says it super-seeds')

  const fetched = await Promise.all(downloaders.map(async (daemon, i) => {
    const others = downloaders.filter((other) => other !== daemon).map((other) => ['--peer', `127.0.0.1:${other.peerPort}`]).flat()
    return runCli(['add', torrent.magnet, '--data-dir', daemon.dataDir, '--out', join(work, `out${i}`), '--peer', `127.0.0.1:${seeder.peerPort}`, ...others, '--wait', '--json'])
  }))
  for (const [i, result] of fetched.entries()) {
    t.equal(result.code, 0, `downloader ${i} finished (${result.stderr})`)
    t.same(await sameFiles(join(work, 'source'), join(work, `out${i}`), FILES), [], `downloader ${i}: byte-equal`)
  }
  const sent = (await seeder.torrent(torrent.infoHash)).uploaded
  const ratio = sent / torrent.length!
  t.ok(ratio < 1.6, `the seed sent ${ratio.toFixed(2)} copies of the torrent to three downloaders (without super-seeding, up to three)`)
  const received = await Promise.all(downloaders.map(async (daemon) => (await daemon.torrent(torrent.infoHash)).downloaded))
  t.ok(received.every((bytes) => bytes >= torrent.length!), 'each downloader received a whole copy, most of it from the others')

  const off = await runCli(['set', torrent.infoHash, '--super-seed', 'off', '--data-dir', seeder.dataDir, '--json'])
  t.equal(off.code, 0, off.stderr)
  t.equal((JSON.parse(off.stdout) as TorrentView).superSeeding, false, '`set --super-seed off` turns it off')
  const wrong = await runCli(['set', torrent.infoHash, '--super-seed', 'maybe', '--data-dir', seeder.dataDir])
  t.equal(wrong.code, 2, 'a value other than on or off is a usage error')
  t.match(wrong.stderr, /--super-seed is on or off/)
})
