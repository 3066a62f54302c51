import t from 'tap'
import { join } from 'node:path'
import type { SwarmHealthView, TorrentView } from '../src/api/types.js'
import { CompletionLog, swarmCopies } from '../src/engine/swarm-health.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { writeFixture } from '../testkit/fixture.js'
import { runCli, waitFor } from '../testkit/process.js'

t.test('distributed copies: the rarest piece\'s holders, plus the share of pieces commoner than it (ourselves and seeds included)', async (t) => {
  t.same(swarmCopies([], 0, () => false), undefined, 'nothing to count before the metadata')
  t.same(swarmCopies([0, 0, 0, 0], 2, () => true), { distributedCopies: 3, rarestPieceCopies: 3 }, 'two seeds and us: three full copies')
  t.same(swarmCopies([1, 2, 1, 1], 0, () => false), { distributedCopies: 1.25, rarestPieceCopies: 1 }, 'one piece held twice: a quarter of a second copy')
  t.same(swarmCopies([0, 1, 0, 1], 0, (piece) => piece === 0), { distributedCopies: 0.75, rarestPieceCopies: 0 }, 'a piece nobody we see has: no full copy')
})

t.test('completions: counted with our own download, by the hour, and the first kept', async (t) => {
  let now = 1_000_000
  const log = new CompletionLog(() => now)
  t.same(log.summary(null), { completions: 0, completionsLastHour: 0, firstFullCopyAt: null })
  log.completed()
  now += 30 * 60_000
  log.completed()
  t.same(log.summary(now - 60_000), { completions: 3, completionsLastHour: 3, firstFullCopyAt: 1_000_000 }, 'two peers and our own')
  now += 45 * 60_000
  t.same(log.summary(null), { completions: 2, completionsLastHour: 1, firstFullCopyAt: 1_000_000 }, 'the first left the hour, not the total')
})

t.test('health on real daemons: two downloaders finish from a seeder; every side counts the copies and completions it saw', async (t) => {
  const work = await tempDir(t)
  const FILES = [{ path: 'patch/data.bin', size: 12 * 1024 * 1024 + 7 }, { path: 'patch/notes.txt', size: 4_000 }]
  await writeFixture(join(work, 'source'), FILES)
  const [seeder, first, second] = [await startDaemon(t), await startDaemon(t), await startDaemon(t)]
  const seeded = await runCli(['seed', join(work, 'source', 'patch'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash, magnet } = JSON.parse(seeded.stdout) as TorrentView
  const health = async (daemon: typeof seeder): Promise<SwarmHealthView> => {
    const shown = await runCli(['health', infoHash, '--data-dir', daemon.dataDir, '--json'])
    t.equal(shown.code, 0, shown.stderr)
    return JSON.parse(shown.stdout) as SwarmHealthView
  }
  const before = await health(seeder)
  t.same([before.distributedCopies, before.rarestPieceCopies, before.completions], [1, 1, 0], 'alone, the seeder is the one copy')

  const got = await runCli(['add', magnet, '--data-dir', first.dataDir, '--out', join(work, 'first'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--wait', '--json'])
  t.equal(got.code, 0, got.stderr)
  const gotToo = await runCli(['add', magnet, '--data-dir', second.dataDir, '--out', join(work, 'second'),
    '--peer', `127.0.0.1:${seeder.peerPort}`, '--peer', `127.0.0.1:${first.peerPort}`, '--wait', '--json'])
  t.equal(gotToo.code, 0, gotToo.stderr)

  const seen = await waitFor('the seeder to see both downloaders as seeds', async () => {
    const now = await health(seeder)
    return now.seeds === 2 ? now : undefined
  }, 60_000)
  t.equal(seen.completions, 2, 'the seeder saw two full copies made')
  t.equal(seen.completionsLastHour, 2)
  t.same([seen.distributedCopies, seen.rarestPieceCopies], [3, 3], 'three copies now: the seeder and two new seeds')
  t.ok(seen.firstFullCopySeconds !== null && seen.firstFullCopySeconds >= 0, 'the time to the first full copy is known')

  const firstSaw = await waitFor('the first downloader to see the second complete', async () => {
    const now = await health(first)
    return now.completions === 2 ? now : undefined
  }, 60_000)
  t.equal(firstSaw.downloadedFromWebSeeds, 0)
  t.equal(firstSaw.offloadRatio, 1, 'with no web seed, peers carried all of it')
  t.equal(firstSaw.earnedThisRun, null, 'no market: nothing earned to show')

  const text = await runCli(['health', infoHash, '--data-dir', seeder.dataDir])
  t.match(text.stdout, /copies:\s+3\.00 distributed, 3 of the rarest piece/, 'the CLI says it in words')
  t.match(text.stdout, /completions:\s+2 this run/)
  const unknown = await runCli(['health', 'nosuchtorrent', '--data-dir', seeder.dataDir])
  t.not(unknown.code, 0, 'an unknown torrent is an error')
  t.match(unknown.stderr, /no torrent|not found|unknown/i)
})
