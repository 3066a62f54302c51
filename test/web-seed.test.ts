import t from 'tap'
import bencode from 'bencode'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { SYSTEM_PYTHON } from '../testkit/clients.js'
import { libtorrentTorrent } from '../testkit/creators.js'
import { startDaemon, tempDir, waitComplete, type RunningDaemon } from '../testkit/daemon.js'
import { sameFiles, writeFixture, type FixtureFile } from '../testkit/fixture.js'
import { run, runCli, waitFor } from '../testkit/process.js'
import { startWebSeedServer, type WebSeedServer } from '../testkit/web-seed-server.js'

const ALLOW_PRIVATE = { BIDTORRENT_WEB_SEEDS_ALLOW_PRIVATE: 'true' }

const MULTI: FixtureFile[] = [
  { path: 'release/big file.bin', size: 3 * 1024 * 1024 + 7_777 },
  { path: 'release/docs/read me #1.txt', size: 5_000 },
  { path: 'release/docs/empty.txt', size: 0 },
  { path: 'release/assets/medium.bin', size: 1024 * 1024 + 1 }
]

interface Made {
  readonly work: string
  readonly server: WebSeedServer
  readonly torrentFile: string
  readonly torrent: TorrentView
}

/** Writes the files, serves them over HTTP and has `seeder` make the torrent with `seed --webseed` (one per URL suffix). */
async function makeTorrent (seeder: RunningDaemon, files: FixtureFile[], target: string, webSeeds: (server: WebSeedServer) => string[], flags: string[] = []): Promise<Made> {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), files)
  const server = await startWebSeedServer(t, join(work, 'source'))
  const torrentFile = join(work, 'made.torrent')
  const args = webSeeds(server).flatMap((url) => ['--webseed', url])
  const seeded = await runCli(['seed', join(work, 'source', target), ...args, ...flags, '--piece-length', '262144', '--save-torrent', torrentFile, '--data-dir', seeder.dataDir, '--json'])
  if (seeded.code !== 0) throw new Error(`seed failed: ${seeded.stderr}`)
  return { work, server, torrentFile, torrent: JSON.parse(seeded.stdout) as TorrentView }
}

async function fetchWith (leecher: RunningDaemon, source: string, out: string, peers: string[] = []): Promise<TorrentView> {
  const added = await runCli(['add', source, '--out', out, ...peers.flatMap((peer) => ['--peer', peer]), '--data-dir', leecher.dataDir, '--json'])
  if (added.code !== 0) throw new Error(`add failed: ${added.stderr}`)
  const view = JSON.parse(added.stdout) as TorrentView
  return waitComplete(leecher, view.infoHash, 180_000)
}

t.test('a web seed alone completes a single-file and a multi-file torrent; libtorrent sees the url-list', async (t) => {
  const seeder = await startDaemon(t)
  const leecher = await startDaemon(t, { env: ALLOW_PRIVATE })

  const single = await makeTorrent(seeder, [{ path: 'one.bin', size: 2 * 1024 * 1024 + 123 }], 'one.bin', (server) => [server.url + 'one.bin'])
  const seen = await run(SYSTEM_PYTHON, ['-c', 'import sys, libtorrent as lt; print("\\n".join(w["url"] for w in lt.torrent_info(sys.argv[1]).web_seeds()))', single.torrentFile])
  t.equal(seen.stdout.trim(), single.server.url + 'one.bin', `libtorrent reads the url-list (${seen.stderr})`)
  const done = await fetchWith(leecher, single.torrentFile, join(single.work, 'out'))
  t.same(await sameFiles(join(single.work, 'source'), join(single.work, 'out'), [{ path: 'one.bin', size: 0 }]), [], 'the file is byte-equal')
  t.equal(done.downloadedFromWebSeeds, 2 * 1024 * 1024 + 123, 'every byte came from the web seed')
  t.equal(done.downloadedFromPeers, 0, 'none from peers')
  t.equal(done.webSeeds[0]?.downloaded, 2 * 1024 * 1024 + 123, 'the web seed shows its bytes')

  const multi = await makeTorrent(seeder, MULTI, 'release', (server) => [server.url])
  const out = join(multi.work, 'out')
  const finished = await fetchWith(leecher, multi.torrentFile, out)
  t.same(await sameFiles(join(multi.work, 'source'), out, MULTI), [], 'every file (names with spaces and #, an empty one) is byte-equal')
  t.equal(finished.downloadedFromWebSeeds, finished.length, 'every byte from the web seed, split over file boundaries')
  t.ok(multi.server.bytesServed <= (finished.length ?? 0), 'the web seed was asked for no byte twice')

  const info = await runCli(['info', finished.infoHash, '--data-dir', leecher.dataDir])
  t.match(info.stdout, /web seeds:\n\s+idle\s+.*http:\/\/127\.0\.0\.1:\d+\//, 'info lists the web seed')

  const exported = join(multi.work, 'exported.torrent')
  t.equal((await runCli(['export', finished.infoHash, exported, '--data-dir', leecher.dataDir])).code, 0, 'export exits 0')
  const reread = await run(SYSTEM_PYTHON, ['-c', 'import sys, libtorrent as lt; print(len(lt.torrent_info(sys.argv[1]).web_seeds()))', exported])
  t.equal(reread.stdout.trim(), '1', 'the exported .torrent keeps the url-list')

  await leecher.stop()
  const again = await startDaemon(t, { dataDir: leecher.dataDir, env: ALLOW_PRIVATE })
  const restored = await again.torrent(finished.infoHash)
  t.equal(restored.webSeeds[0]?.url, multi.server.url, 'the web seed is kept through a restart')
})

t.test('by default a web seed on this machine is refused, and status says why', async (t) => {
  const seeder = await startDaemon(t)
  const leecher = await startDaemon(t)
  const made = await makeTorrent(seeder, [{ path: 'x.bin', size: 300_000 }], 'x.bin', (server) => [server.url + 'x.bin'])
  const added = await runCli(['add', made.torrentFile, '--out', join(made.work, 'out'), '--data-dir', leecher.dataDir, '--json'])
  const infoHash = (JSON.parse(added.stdout) as TorrentView).infoHash
  const refused = await waitFor('the web seed to be refused', async () => {
    const view = await leecher.torrent(infoHash)
    return view.webSeeds[0]?.state === 'refused' ? view : undefined
  }, 60_000)
  t.match(refused.webSeeds[0]?.lastError, /private or loopback.*webSeedsAllowPrivate/, 'it names the setting that allows it')
  t.equal(made.server.requests, 0, 'the server was never called')
})

t.test('a peer and a web seed both contribute (the web seed from a magnet\'s ws=)', async (t) => {
  const seeder = await startDaemon(t)
  const leecher = await startDaemon(t, { env: ALLOW_PRIVATE })
  const files = [{ path: 'both.bin', size: 12 * 1024 * 1024 }]
  const made = await makeTorrent(seeder, files, 'both.bin', () => [], ['--upload-limit', '2MiB/s'])
  made.server.rate = 2 * 1024 * 1024
  const magnet = `${made.torrent.magnet}&ws=${encodeURIComponent(made.server.url + 'both.bin')}`
  const done = await fetchWith(leecher, magnet, join(made.work, 'out'), [`127.0.0.1:${seeder.peerPort}`])
  t.same(await sameFiles(join(made.work, 'source'), join(made.work, 'out'), files), [], 'the file is byte-equal')
  t.ok(done.downloadedFromWebSeeds > 0, `the web seed gave ${done.downloadedFromWebSeeds} bytes`)
  t.ok(done.downloadedFromPeers > 0, `the peer gave ${done.downloadedFromPeers} bytes`)
  t.equal(done.downloadedFromWebSeeds + done.downloadedFromPeers, done.downloaded, 'the two add up')
})

t.test('web seeds answering 500 and 404 back off and give up; the torrent completes from a peer', async (t) => {
  const seeder = await startDaemon(t)
  const leecher = await startDaemon(t, { env: ALLOW_PRIVATE })
  const files = [{ path: 'slow.bin', size: 3 * 1024 * 1024 }]
  const made = await makeTorrent(seeder, files, 'slow.bin', (server) => [server.url + 'slow.bin', server.url + 'missing.bin'])
  made.server.mode = { status: 500 }
  // No peer at first: the web seeds alone, failing.
  const out = join(made.work, 'out')
  const added = await runCli(['add', made.torrentFile, '--out', out, '--data-dir', leecher.dataDir, '--json'])
  const infoHash = (JSON.parse(added.stdout) as TorrentView).infoHash
  const failing = await waitFor('the 404 web seed to be given up', async () => {
    const view = await leecher.torrent(infoHash)
    return view.webSeeds[1]?.state === 'failed' ? view : undefined
  }, 60_000)
  const [erroring, missing] = failing.webSeeds
  t.match(missing, { state: 'failed', lastError: /gave up after 3 failures in a row: HTTP 404/ }, 'the 404 web seed is given up after three tries')
  t.ok((erroring?.errors ?? 0) >= 2, `the 500 web seed failed ${erroring?.errors} times`)
  t.match(erroring, { state: 'backing-off', lastError: /HTTP 500/ }, 'it backs off, its last error shown')
  t.ok((erroring?.retryAt ?? 0) > Date.now() - 1000, 'with the time it is asked again')
  const requests = made.server.requests
  t.ok(requests < 20, `the web seeds were not hammered (${requests} requests)`)
  t.equal(failing.verifiedPieces, 0, 'nothing verified yet')

  const withPeer = await runCli(['add', made.torrentFile, '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir, '--json'])
  t.equal(withPeer.code, 0, withPeer.stderr)
  const done = await waitComplete(leecher, infoHash, 180_000)
  t.same(await sameFiles(join(made.work, 'source'), out, files), [], 'the file is byte-equal, from the peer')
  t.equal(done.downloadedFromWebSeeds, 0, 'nothing from the failing web seeds')
})

t.test('a web seed serving corrupt bytes is banned; the data completes correct from a peer', async (t) => {
  const seeder = await startDaemon(t)
  const leecher = await startDaemon(t, { env: ALLOW_PRIVATE })
  const files = [{ path: 'bad.bin', size: 6 * 1024 * 1024 }]
  const made = await makeTorrent(seeder, files, 'bad.bin', (server) => [server.url + 'bad.bin'], ['--upload-limit', '1MiB/s'])
  made.server.mode = 'corrupt'
  const added = await runCli(['add', made.torrentFile, '--out', join(made.work, 'out'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir, '--json'])
  const infoHash = (JSON.parse(added.stdout) as TorrentView).infoHash
  const atBan = await waitFor('the web seed to be banned', async () => {
    const view = await leecher.torrent(infoHash)
    return view.webSeeds[0]?.state === 'banned' ? view : undefined
  }, 60_000)
  const requestsAtBan = made.server.requests
  const done = await waitComplete(leecher, infoHash, 180_000)
  t.same(await sameFiles(join(made.work, 'source'), join(made.work, 'out'), files), [], 'the file is byte-equal')
  t.match(done.webSeeds[0], { state: 'banned', lastError: /failed its hash check/ }, 'the web seed is banned, and says why')
  t.ok(done.hashFailures >= 1, 'its piece failed the hash check')
  t.same(done.bannedPeers, [], 'the peer is not blamed')
  t.equal(atBan.state, 'downloading', 'the web seed was banned while the torrent still downloaded')
  t.equal(made.server.requests, requestsAtBan, `a banned web seed is not asked again (${requestsAtBan} requests before the ban)`)
})

t.test('a libtorrent torrent with pad files (BEP 47): the web seed is never asked for pad bytes', async (t) => {
  const leecher = await startDaemon(t, { env: ALLOW_PRIVATE })
  const work = await tempDir(t)
  const files = [{ path: 'pack/a.bin', size: 1024 * 1024 + 5 }, { path: 'pack/c.txt', size: 1234 }, { path: 'pack/sub/b.bin', size: 300_000 }]
  await writeFixture(join(work, 'source'), files)
  const server = await startWebSeedServer(t, join(work, 'source'))
  const made = join(work, 'lt.torrent')
  await libtorrentTorrent(join(work, 'source', 'pack'), 64 * 1024, 'v1-padded', made)
  // The url-list sits outside the info dictionary: adding it keeps the info hash.
  const torrent = bencode.decode(await readFile(made)) as Record<string, unknown>
  await writeFile(made, bencode.encode({ ...torrent, 'url-list': [server.url] }))
  const done = await fetchWith(leecher, made, join(work, 'out'))
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'every file is byte-equal')
  t.same([...server.paths].filter((path) => /\.pad|padding/.test(path)), [], `no pad file was asked for (${[...server.paths].join(', ')})`)
  const real = files.reduce((sum, file) => sum + file.size, 0)
  t.equal(done.downloadedFromWebSeeds, real, 'the web seed gave the real files\' bytes, no more')
  t.equal(server.bytesServed, real, 'and served exactly those')
})

t.test('with some files chosen, a web seed fetches only the pieces they need', async (t) => {
  const seeder = await startDaemon(t)
  const leecher = await startDaemon(t, { env: ALLOW_PRIVATE })
  const made = await makeTorrent(seeder, MULTI, 'release', (server) => [server.url])
  const out = join(made.work, 'out')
  const added = await runCli(['add', made.torrentFile, '--out', out, '--only', 'medium.bin', '--data-dir', leecher.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  const infoHash = (JSON.parse(added.stdout) as TorrentView).infoHash
  const done = await waitFor('the chosen file to complete', async () => {
    const view = await leecher.torrent(infoHash)
    return view.state === 'seeding' ? view : undefined
  }, 120_000)
  const medium = MULTI.find((file) => file.path.endsWith('medium.bin'))!
  t.same(await sameFiles(join(made.work, 'source'), out, [medium]), [], 'the chosen file is byte-equal')
  // The pieces it shares with the next file are fetched whole: at most one piece more each side.
  t.ok(done.downloadedFromWebSeeds <= medium.size + 2 * 262_144, `the web seed gave ${done.downloadedFromWebSeeds} bytes for a file of ${medium.size}`)
  t.notOk(made.server.paths.has('/release/docs/read me #1.txt'), 'a file no chosen piece touches is never asked for')
})
