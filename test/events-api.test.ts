import t from 'tap'
import { join } from 'node:path'
import type { EventsPage, TorrentView } from '../src/api/types.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { writeFixture } from '../testkit/fixture.js'
import { runCli } from '../testkit/process.js'

t.test('the daemon keeps its torrents\' typed events: the API and `bidtorrent events` show a download from first state to complete', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), [{ path: 'data.bin', size: 3 * 1024 * 1024 + 7 }])
  const seeder = await startDaemon(t)
  const leecher = await startDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'data.bin'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, `seed exits 0 (${seeded.stderr})`)
  const torrent = JSON.parse(seeded.stdout) as TorrentView
  const fetched = await runCli(['add', torrent.magnet, '--data-dir', leecher.dataDir, '--out', join(work, 'out'),
    '--peer', `127.0.0.1:${seeder.peerPort}`, '--wait', '--json'])
  t.equal(fetched.code, 0, `add --wait exits 0 (${fetched.stderr})`)
  const done = JSON.parse(fetched.stdout) as TorrentView

  const listed = await runCli(['events', '--data-dir', leecher.dataDir, '--json'])
  t.equal(listed.code, 0, `events exits 0 (${listed.stderr})`)
  const page = JSON.parse(listed.stdout) as EventsPage
  const types = page.events.map((entry) => entry.event.type)
  t.ok(page.events.every((entry) => entry.infoHash === torrent.infoHash), 'every event names the torrent')
  t.same(page.events.map((entry) => entry.seq), page.events.map((_, i) => i + 1), 'numbered from 1, in order')
  t.equal(page.next, page.events.length, 'next is the last number')
  t.ok(types.indexOf('metadata') >= 0 && types.indexOf('metadata') < types.indexOf('piece-verified'), 'the metadata arrives before the first verified piece')
  t.equal(types.filter((type) => type === 'piece-verified').length, done.pieceCount, 'one piece-verified event a piece')
  t.ok(types.includes('peer-connected'), 'the seeder connecting is an event')
  t.equal(types.at(-1), 'complete', 'complete comes last')
  const metadata = page.events.find((entry) => entry.event.type === 'metadata')?.event
  t.match(metadata, { type: 'metadata', name: 'data.bin', length: 3 * 1024 * 1024 + 7, pieceCount: done.pieceCount }, 'the metadata event names the torrent and its size')
  const states = page.events.flatMap((entry) => entry.event.type === 'state' ? [entry.event.state] : [])
  t.same([...new Set(states)], ['checking', 'downloading', 'seeding'], 'states in order: checking, downloading, seeding')

  const after = await runCli(['events', '--data-dir', leecher.dataDir, '--after', String(page.next - 1)])
  t.equal(after.code, 0)
  t.match(after.stdout.trim(), new RegExp(`^#${page.next} \\S+ ${torrent.infoHash.slice(0, 8)} complete$`), '--after N shows only what came after, one line an event')
  const bad = await runCli(['events', '--data-dir', leecher.dataDir, '--after', '-1'])
  t.equal(bad.code, 2, 'a bad --after is a usage error')
})
