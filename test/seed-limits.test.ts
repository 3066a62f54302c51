import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { ApiEndpoint, EventsPage, TorrentView } from '../src/api/types.js'
import { limitInForce, seedRatioOf, seedVerdict } from '../src/daemon/seed-limits.js'
import { formatDuration, parseDuration } from '../src/util/units.js'
import { seedFile, startDaemon, type RunningDaemon } from '../testkit/daemon.js'
import { run, runCli, waitFor } from '../testkit/process.js'
import { rpcCall } from '../testkit/rpc-client.js'

const MiB = 1024 * 1024

t.test('the seed-limit verdict on plain numbers', async (t) => {
  const seeding = { seeding: true, uploaded: 0, sizeWhenDone: 1000, idleSeconds: 0 }
  t.same(seedVerdict(seeding, { ratio: null, idleSeconds: null }), { stop: false }, 'no limits: seeds for ever')
  t.same(seedVerdict({ ...seeding, uploaded: 1999 }, { ratio: 2, idleSeconds: null }), { stop: false }, 'below the ratio')
  t.match(seedVerdict({ ...seeding, uploaded: 2000 }, { ratio: 2, idleSeconds: null }), { stop: true, limit: 'ratio', reason: 'seed ratio 2.00 reached' }, 'at the ratio: stop')
  t.match(seedVerdict({ ...seeding, idleSeconds: 1800 }, { ratio: 2, idleSeconds: 1800 }), { stop: true, limit: 'idle', reason: /idle for 30m/ }, 'idle for the limit: stop')
  t.same(seedVerdict({ ...seeding, idleSeconds: 1799 }, { ratio: null, idleSeconds: 1800 }), { stop: false }, 'idle for less')
  t.same(seedVerdict({ ...seeding, seeding: false, uploaded: 5000, idleSeconds: 9999 }, { ratio: 1, idleSeconds: 1 }), { stop: false }, 'not seeding (downloading, paused): limits do not apply')
  t.same(seedVerdict({ ...seeding, sizeWhenDone: 0 }, { ratio: 0, idleSeconds: null }), { stop: false }, 'no size known yet: no verdict')
  t.match(seedVerdict(seeding, { ratio: 0, idleSeconds: null }), { stop: true, limit: 'ratio' }, 'ratio 0: stop once complete')
  t.equal(limitInForce('global', 2), 2, 'global: the daemon\'s')
  t.equal(limitInForce('none', 2), null, 'none: no limit')
  t.equal(limitInForce(1.5, null), 1.5, 'its own')
  t.equal(seedRatioOf(500, 1000), 0.5)
  t.equal(seedRatioOf(500, 0), 0, 'no size: ratio 0')
  t.equal(parseDuration('30m'), 1800)
  t.equal(parseDuration('5s'), 5)
  t.equal(parseDuration('1.5h'), 5400)
  t.throws(() => parseDuration('30'), /invalid duration/, 'the unit is required')
  t.equal(formatDuration(1800), '30m')
  t.equal(formatDuration(90), '90s')
})

async function events (daemon: RunningDaemon): Promise<EventsPage['events']> {
  return (await daemon.api.request<EventsPage>('GET', '/v1/events')).events
}

t.test('a seeder stops at its seed ratio: paused, the reason in info and the event log, kept over a restart; started again, its ratio limit is off', async (t) => {
  const seeder = await startDaemon(t)
  const seeded = await seedFile(t, seeder, 'ratio.bin', 2 * MiB)
  const { infoHash } = seeded.torrent
  const set = await runCli(['set', infoHash, '--seed-ratio', '1', '--label', 'linux', '--label', 'iso', '--data-dir', seeder.dataDir, '--json'])
  t.equal(set.code, 0, set.stderr)
  t.match(JSON.parse(set.stdout), { labels: ['linux', 'iso'], seedLimits: { ratio: 1, ratioLimit: 1, action: 'pause', stoppedBy: null } }, 'set: its own ratio limit and labels')
  t.equal((await runCli(['set', infoHash, '--label', 'a,b', '--data-dir', seeder.dataDir])).code, 2, 'a label with a comma: a usage error')

  // The leecher may never complete: duplicate blocks (endgame, a re-request) count in the seeder's
  // uploads, so it can reach ratio 1 and stop a block short. The seeder's stop is what is tested.
  const leecher = await startDaemon(t)
  const added = await runCli(['add', seeded.torrentFile, '--peer', `127.0.0.1:${seeder.peerPort}`, '--label', 'from-cli', '--seed-ratio', 'none', '--seed-idle', '2h', '--data-dir', leecher.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  t.match(JSON.parse(added.stdout), { labels: ['from-cli'], seedLimits: { ratio: 'none', idle: 7200, ratioLimit: null, idleLimitSeconds: 7200 } }, 'add takes labels and seed limits')

  const stopped = await waitFor('the seeder paused at ratio 1', async () => {
    const view = await seeder.torrent(infoHash)
    return view.state === 'paused' ? view : undefined
  }, 120_000)
  t.equal(stopped.seedLimits.stoppedBy, 'seed ratio 1.00 reached', 'its status says why')
  t.ok(stopped.seedLimits.ratioNow >= 1, `ratio ${stopped.seedLimits.ratioNow}`)
  t.match((await events(seeder)).filter((entry) => entry.event.type === 'seed-limit'), [{ infoHash, event: { type: 'seed-limit', limit: 'ratio', action: 'pause', reason: 'seed ratio 1.00 reached' } }], 'an event in the event log')
  const info = await runCli(['info', infoHash, '--data-dir', seeder.dataDir])
  t.match(info.stdout, /state: +paused \(seed ratio 1\.00 reached\)/, 'info shows why it stopped')
  t.match(info.stdout, /labels: +linux, iso/, 'and its labels')
  t.match((await runCli(['ls', '--data-dir', seeder.dataDir])).stdout, /ratio\.bin {2}\[linux, iso\]/, 'ls shows the labels')
  t.match((await runCli(['events', '--data-dir', seeder.dataDir])).stdout, /seed-limit seed ratio 1\.00 reached: paused/, 'events shows it')

  await seeder.stop()
  const again = await startDaemon(t, { dataDir: seeder.dataDir })
  const restored = await again.torrent(infoHash)
  t.match(restored, { state: 'paused', labels: ['linux', 'iso'], seedLimits: { ratio: 1, stoppedBy: 'seed ratio 1.00 reached' } }, 'after a restart: still paused, with its reason, labels and limit')
  t.ok(restored.seedLimits.uploadedEver >= 2 * MiB && restored.seedLimits.ratioNow >= 1, `the last run's uploads still count: ${restored.seedLimits.uploadedEver} bytes`)

  t.equal((await runCli(['resume', infoHash, '--data-dir', again.dataDir])).code, 0)
  const resumed = await again.torrent(infoHash)
  t.match(resumed.seedLimits, { stoppedBy: null }, 'started again: the reason is gone')
  t.equal(resumed.seedLimits.ratio, 'none', 'started again at its ratio: its ratio limit is off, as Transmission does')
  t.equal((await again.torrent(infoHash)).state, 'seeding', 'and it seeds on')
})

t.test('the idle limit with the remove action: a torrent idle for the limit is removed, its data kept; one with --seed-idle none stays', async (t) => {
  const daemon = await startDaemon(t, { env: { BIDTORRENT_SEED_IDLE_LIMIT: '3s', BIDTORRENT_SEED_LIMIT_ACTION: 'remove' } })
  const kept = await seedFile(t, daemon, 'kept.bin', MiB, ['--seed-idle', 'none', '--label', 'keep'])
  const idle = await seedFile(t, daemon, 'idle.bin', MiB)
  await waitFor('the idle torrent removed', async () => {
    const torrents = await daemon.api.request<TorrentView[]>('GET', '/v1/torrents')
    return torrents.some((torrent) => torrent.infoHash === idle.torrent.infoHash) ? undefined : true
  }, 60_000)
  t.ok(existsSync(join(idle.work, 'source', 'idle.bin')), 'its data is kept')
  t.match((await events(daemon)).filter((entry) => entry.event.type === 'seed-limit'), [{ infoHash: idle.torrent.infoHash, event: { limit: 'idle', action: 'remove', reason: 'idle for 3s while seeding (its idle limit)' } }], 'the event says why')
  const staying = await daemon.torrent(kept.torrent.infoHash)
  t.match(staying, { state: 'seeding', seedLimits: { idle: 'none', idleLimitSeconds: null } }, 'the torrent with no idle limit of its own seeds on')
})

/** Debian's transmission-remote against a daemon's RPC, with the API token as the password. */
async function remote (daemon: RunningDaemon, args: readonly string[]): Promise<string> {
  const { url, token } = JSON.parse(await readFile(join(daemon.dataDir, 'api.json'), 'utf8')) as ApiEndpoint
  const result = await run('transmission-remote', [new URL(url).host, '--auth', `anyone:${token}`, ...args])
  // A change answers "success"; -i answers the torrent's details.
  if (result.code !== 0 || !/success|NAME/.test(result.stdout + result.stderr)) throw new Error(`transmission-remote ${args.join(' ')}: ${result.stdout}${result.stderr}`)
  return result.stdout
}

t.test('labels and seed limits through Transmission\'s RPC: transmission-remote -L, -sr, -SR, -srd, -gsr, -u, and session-set', async (t) => {
  const daemon = await startDaemon(t)
  const seeded = await seedFile(t, daemon, 'rpc.bin', MiB)
  const { infoHash } = seeded.torrent
  await remote(daemon, ['-t', infoHash, '-L', 'movies,hd'])
  t.same((await daemon.torrent(infoHash)).labels, ['movies', 'hd'], '-L sets the labels')
  const got = await rpcCall(daemon.dataDir, 'torrent-get', { ids: [infoHash], fields: ['labels', 'seedRatioMode', 'seedRatioLimit', 'seedIdleMode', 'isFinished'] })
  t.match(got.arguments, { torrents: [{ labels: ['movies', 'hd'], seedRatioMode: 0, seedIdleMode: 0, isFinished: false }] }, 'torrent-get answers them')

  await remote(daemon, ['-t', infoHash, '-sr', '1.5'])
  t.match((await daemon.torrent(infoHash)).seedLimits, { ratio: 1.5, ratioLimit: 1.5 }, '-sr: its own ratio')
  t.match((await rpcCall(daemon.dataDir, 'torrent-get', { ids: [infoHash], fields: ['seedRatioMode', 'seedRatioLimit'] })).arguments, { torrents: [{ seedRatioMode: 1, seedRatioLimit: 1.5 }] })
  await remote(daemon, ['-t', infoHash, '-SR'])
  t.match((await daemon.torrent(infoHash)).seedLimits, { ratio: 'none', ratioLimit: null }, '-SR: none')
  await remote(daemon, ['-t', infoHash, '-srd'])
  await remote(daemon, ['-gsr', '3'])
  t.match((await daemon.torrent(infoHash)).seedLimits, { ratio: 'global', ratioLimit: 3 }, '-srd and -gsr 3: the session\'s, 3')
  await remote(daemon, ['-u', '250'])
  const session = await rpcCall(daemon.dataDir, 'session-get')
  t.match(session.arguments, { seedRatioLimit: 3, seedRatioLimited: true, 'speed-limit-up': 250, 'speed-limit-up-enabled': true, 'alt-speed-enabled': false }, 'session-get shows them')
  const details = await remote(daemon, ['-t', infoHash, '-i'])
  t.match(details, /Ratio Limit: Default/, 'transmission-remote -i reads the mode')
  t.match(details, /Labels: movies, hd/, 'and the labels')

  const set = await rpcCall(daemon.dataDir, 'session-set', { 'idle-seeding-limit': 45, 'idle-seeding-limit-enabled': true, seedRatioLimited: false, 'speed-limit-up-enabled': false, 'rpc-version': 99, 'no-such-key': 1 })
  t.equal(set.result, 'success', 'session-set: read-only and unknown keys are ignored, as Transmission does')
  t.match((await daemon.torrent(infoHash)).seedLimits, { ratioLimit: null, idleLimitSeconds: 2700 }, 'the idle limit in minutes, the ratio limit off')
  t.match((await rpcCall(daemon.dataDir, 'session-get', { fields: ['speed-limit-up', 'speed-limit-up-enabled', 'idle-seeding-limit'] })).arguments, { 'speed-limit-up': 250, 'speed-limit-up-enabled': false, 'idle-seeding-limit': 45 }, 'a limit turned off keeps its value')
  t.match((await rpcCall(daemon.dataDir, 'session-set', { 'alt-speed-enabled': true })).result, /no alternative speed limits/, 'alternative speed limits: refused')
  t.match((await rpcCall(daemon.dataDir, 'session-set', { seedRatioLimit: 'lots' })).result, /seedRatioLimit must be a number/, 'a bad value: refused')

  const folder = join(seeded.work, 'new-downloads')
  t.equal((await rpcCall(daemon.dataDir, 'session-set', { 'download-dir': folder })).result, 'success')
  t.equal((await rpcCall(daemon.dataDir, 'session-get', { fields: ['download-dir'] })).arguments['download-dir'], folder, 'download-dir changes')
  const added = await rpcCall(daemon.dataDir, 'torrent-add', { filename: `magnet:?xt=urn:btih:${'ab'.repeat(20)}`, labels: ['later'], paused: true })
  t.equal(added.result, 'success', JSON.stringify(added))
  t.match(await daemon.torrent('ab'.repeat(20)), { directory: folder, labels: ['later'] }, 'a torrent added next goes there, with the labels torrent-add gave')
  t.match((await rpcCall(daemon.dataDir, 'torrent-set', { ids: [infoHash], labels: ['bad,label'] })).result, /comma/, 'a label with a comma: refused')
  t.equal((await rpcCall(daemon.dataDir, 'torrent-set', { ids: [infoHash], seedIdleMode: 1, seedIdleLimit: 10 })).result, 'success')
  t.match((await daemon.torrent(infoHash)).seedLimits, { idle: 600, idleLimitSeconds: 600 }, 'torrent-set seedIdleMode 1: its own idle limit, in minutes')
  t.match((await rpcCall(daemon.dataDir, 'torrent-get', { ids: [infoHash], fields: ['seedIdleMode', 'seedIdleLimit'] })).arguments, { torrents: [{ seedIdleMode: 1, seedIdleLimit: 10 }] })
  t.match((await rpcCall(daemon.dataDir, 'torrent-set', { ids: [infoHash], seedRatioMode: 7 })).result, /seedRatioMode must be 0/, 'an unknown mode: refused')
})
