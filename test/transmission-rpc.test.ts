import { existsSync } from 'node:fs'
import { cp, mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import type { TorrentView } from '../src/api/types.js'
import { apiUrlOf, isLoopback } from '../src/daemon/api-server.js'
import { BASE_UNITS_PER_BTT } from '../src/money/price.js'
import { endpointOf, seedFile, startDaemon, tempDir, waitComplete, type RunningDaemon } from '../testkit/daemon.js'
import { sameFiles, sha256File, writeFixture } from '../testkit/fixture.js'
import { marketDaemon } from '../testkit/market.js'
import { run, runCli, waitFor, type Cleanup } from '../testkit/process.js'

const MiB = 1024 * 1024

/** Debian's transmission-remote against a daemon's RPC, with the API token as the password. */
async function remote (daemon: RunningDaemon, args: readonly string[], password?: string): Promise<{ code: number | null, out: string }> {
  const { url, token } = await endpointOf(daemon)
  const result = await run('transmission-remote', [new URL(url).host, '--auth', `anyone:${password ?? token}`, ...args])
  return { code: result.code, out: result.stdout + result.stderr }
}

/** A raw request, with headers a browser would not let a page set. */
async function raw (daemon: RunningDaemon, headers: Record<string, string>, body = '{"method":"session-get"}'): Promise<{ status: number, headers: Record<string, unknown>, body: string }> {
  const { url } = await endpointOf(daemon)
  return await new Promise((resolve, reject) => {
    const call = request(`${url}/transmission/rpc`, { method: 'POST', headers }, (response) => {
      let text = ''
      response.on('data', (chunk: Buffer) => { text += chunk.toString() })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }))
    })
    call.on('error', reject)
    call.end(body)
  })
}

/** One RPC call, the session id fetched first; its arguments, or an error with its result. */
async function rpc (daemon: RunningDaemon, method: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const { token } = await endpointOf(daemon)
  const headers = { host: '127.0.0.1', authorization: `Basic ${Buffer.from(`anyone:${token}`).toString('base64')}` }
  const sessionId = (await raw(daemon, headers)).headers['x-transmission-session-id'] as string
  const answer = JSON.parse((await raw(daemon, { ...headers, 'x-transmission-session-id': sessionId }, JSON.stringify({ method, arguments: args }))).body) as { result: string, arguments: Record<string, unknown> }
  if (answer.result !== 'success') throw new Error(`${method}: ${answer.result}`)
  return answer.arguments
}

t.test('transmission-remote drives bidtorrent: list, add by magnet and by file, stop, start, info, remove with data', async (t) => {
  const seeder = await startDaemon(t)
  const first = await seedFile(t, seeder, 'remote-one.bin', 3 * MiB)
  const second = await seedFile(t, seeder, 'remote-two.bin', 2 * MiB)
  const leecher = await startDaemon(t, { env: { BIDTORRENT_DOWNLOAD_DIR: join(first.work, 'out') } })

  const listed = await remote(seeder, ['-l'])
  t.equal(listed.code, 0, listed.out)
  t.match(listed.out, /100%.*remote-one\.bin/, 'the seeder\'s torrents, complete')
  t.match(listed.out, /Sum:/, 'with the totals line')

  const magnet = `${first.torrent.magnet}&x.pe=127.0.0.1:${seeder.peerPort}`
  const added = await remote(leecher, ['-a', magnet])
  t.match(added.out, /responded: "success"/, `added by magnet: ${added.out.trim()}`)
  await waitComplete(leecher, first.torrent.infoHash)
  t.same(await sameFiles(join(first.work, 'source'), join(first.work, 'out'), first.files), [], 'downloaded, byte-equal')

  const addedFile = await remote(leecher, ['-a', second.torrentFile])
  t.match(addedFile.out, /responded: "success"/, 'added from a .torrent file (sent as metainfo)')
  const duplicate = await remote(leecher, ['-a', second.torrentFile])
  t.match(duplicate.out, /duplicate torrent|responded: "success"/, `the same file again is a duplicate: ${duplicate.out.trim()}`)
  t.equal((await leecher.api.request<TorrentView[]>('GET', '/v1/torrents')).length, 2, 'and is not added twice')
  await leecher.api.request('POST', `/v1/torrents/${second.torrent.infoHash}/peers`, { peers: [`127.0.0.1:${seeder.peerPort}`] })
  await waitComplete(leecher, second.torrent.infoHash)

  const info = await remote(leecher, ['-t', first.torrent.infoHash, '-i'])
  t.match(info.out, new RegExp(`Hash: ${first.torrent.infoHash}`), 'info by hash')
  t.match(info.out, /Percent Done: 100%/, 'and its progress')

  t.equal((await remote(leecher, ['-t', '1', '-S'])).code, 0, 'stop by id')
  await waitFor('the torrent paused', async () => ((await leecher.torrent(first.torrent.infoHash)).state === 'paused' ? true : undefined), 30_000)
  t.match((await remote(leecher, ['-l'])).out, /Stopped.*remote-one\.bin/, 'listed as stopped')
  t.equal((await remote(leecher, ['-t', '1', '-s'])).code, 0, 'start by id')
  await waitFor('the torrent running', async () => ((await leecher.torrent(first.torrent.infoHash)).state === 'seeding' ? true : undefined), 30_000)

  const stats = await remote(leecher, ['-st'])
  t.match(stats.out, /Downloaded:/, 'session stats')
  const session = await remote(leecher, ['-si'])
  t.match(session.out, /RPC version: 16/, 'session info')

  const removed = await remote(leecher, ['-t', '1', '--remove-and-delete'])
  t.equal(removed.code, 0, removed.out)
  await waitFor('the torrent and its data gone', async () => {
    const torrents = await leecher.api.request<TorrentView[]>('GET', '/v1/torrents')
    return !torrents.some((torrent) => torrent.infoHash === first.torrent.infoHash) && !existsSync(join(first.work, 'out', 'remote-one.bin')) ? true : undefined
  }, 30_000)
  t.ok(existsSync(join(first.work, 'out', 'remote-two.bin')), 'the other torrent\'s data stays')
})

t.test('the RPC\'s protections: credentials, the session id exchange, the Host header', async (t) => {
  const daemon = await startDaemon(t)
  const { token } = await endpointOf(daemon)
  const wrong = await remote(daemon, ['-l'], 'not-the-token')
  t.not(wrong.code, 0, 'a wrong password: transmission-remote fails')
  t.match(wrong.out, /401|Unauthorized/i, wrong.out.trim())

  const basic = `Basic ${Buffer.from(`anyone:${token}`).toString('base64')}`
  t.equal((await raw(daemon, { host: '127.0.0.1' })).status, 401, 'no credentials: 401')
  const first = await raw(daemon, { host: '127.0.0.1', authorization: basic })
  t.equal(first.status, 409, 'no session id: 409')
  const sessionId = first.headers['x-transmission-session-id']
  t.type(sessionId, 'string', 'with the session id to use')
  const answered = await raw(daemon, { host: '127.0.0.1', authorization: basic, 'x-transmission-session-id': sessionId as string })
  t.equal(answered.status, 200, 'with it: answered')
  t.match(JSON.parse(answered.body), { result: 'success', arguments: { 'rpc-version': 16 } })
  const rebound = await raw(daemon, { host: 'attacker.example:9091', authorization: basic, 'x-transmission-session-id': sessionId as string })
  t.equal(rebound.status, 421, 'a Host name not allowed (DNS rebinding): refused')
  t.equal((await raw(daemon, { host: `localhost:${daemon.apiPort}`, authorization: basic, 'x-transmission-session-id': sessionId as string })).status, 200, 'localhost is allowed')
  const unknown = await raw(daemon, { host: '127.0.0.1', authorization: basic, 'x-transmission-session-id': sessionId as string }, '{"method":"no-such-method"}')
  t.match(JSON.parse(unknown.body), { result: /not recognized/ }, 'an unknown method: an error in result, as Transmission answers')
  const garbage = await raw(daemon, { host: '127.0.0.1', authorization: basic, 'x-transmission-session-id': sessionId as string }, '{not json')
  t.match(JSON.parse(garbage.body), { result: /not valid JSON/ }, 'a body that is not JSON: a clear error')
})

t.test('file selection through the RPC: transmission-remote skips a file, and it is not downloaded', async (t) => {
  const seeder = await startDaemon(t)
  const work = await tempDir(t)
  const files = [{ path: 'album/one.bin', size: 2 * MiB }, { path: 'album/two.bin', size: 2 * MiB }, { path: 'album/three.bin', size: 2 * MiB }]
  await writeFixture(join(work, 'source'), files)
  const torrentFile = join(work, 'album.torrent')
  const seeded = await runCli(['seed', join(work, 'source', 'album'), '--save-torrent', torrentFile, '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash } = JSON.parse(seeded.stdout) as TorrentView
  const leecher = await startDaemon(t)
  const out = join(work, 'out')
  await leecher.api.request('POST', '/v1/torrents', { torrent: (await readFile(torrentFile)).toString('base64'), directory: out, paused: true, peers: [`127.0.0.1:${seeder.peerPort}`] })

  const paths = (await leecher.torrent(infoHash)).files.map((file) => file.path)
  const two = paths.indexOf('album/two.bin')
  const three = paths.indexOf('album/three.bin')
  const listing = await remote(leecher, ['-t', infoHash, '-f'])
  t.match(listing.out, /3 files/, `the files as Transmission lists them:\n${listing.out}`)
  const skipped = await remote(leecher, ['-t', infoHash, '-G', String(two)])
  t.equal(skipped.code, 0, skipped.out)
  t.equal((await remote(leecher, ['-t', infoHash, '-ph', String(three)])).code, 0, 'a priority set')
  t.equal((await remote(leecher, ['-t', infoHash, '-s'])).code, 0, 'started')
  await waitComplete(leecher, infoHash)
  const view = await leecher.torrent(infoHash)
  t.equal(view.files[two]!.priority, 'skip', 'the daemon holds the file as skipped')
  t.equal(view.files[three]!.priority, 'high', 'and the other at high priority')
  const after = await remote(leecher, ['-t', infoHash, '-f'])
  t.match(after.out, /100%\s+High\s+Yes/, `the high priority file, complete:\n${after.out}`)
  t.match(after.out, /No\s+[\d.]+ MB\s+album\/two\.bin/, 'the skipped one, not wanted')
  t.notOk(existsSync(join(out, 'album', 'two.bin')), 'the skipped file is not on disk')
  t.same(await sameFiles(join(work, 'source'), out, files.filter((file) => file.path !== 'album/two.bin')), [], 'the others are byte-equal')
})

/** Flips one byte of a file on disk, as a failing disk or a careless user would. */
async function corruptByte (path: string, position: number): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, position)
    byte[0] = byte[0]! ^ 0xff
    await handle.write(byte, 0, 1, position)
  } finally {
    await handle.close()
  }
}

t.test('transmission-remote --verify: a byte damaged on disk is found, its piece missing again and downloaded again', async (t) => {
  const seeder = await startDaemon(t)
  const seeded = await seedFile(t, seeder, 'verify-me.bin', 3 * MiB)
  const { infoHash } = seeded.torrent
  const leecher = await startDaemon(t, { env: { BIDTORRENT_DOWNLOAD_DIR: join(seeded.work, 'out') } })
  await leecher.api.request('POST', '/v1/torrents', { magnet: seeded.torrent.magnet, peers: [`127.0.0.1:${seeder.peerPort}`] })
  const before = await waitComplete(leecher, infoHash)

  await corruptByte(join(seeded.work, 'out', 'verify-me.bin'), MiB + 1234)
  const verified = await remote(leecher, ['-t', infoHash, '--verify'])
  t.match(verified.out, /responded: "success"/, `verify asked: ${verified.out.trim()}`)
  const again = await waitFor('the damaged piece downloaded again', async () => {
    const view = await leecher.torrent(infoHash)
    return view.state === 'seeding' && view.piecesDownloaded > before.piecesDownloaded ? view : undefined
  }, 120_000)
  t.equal(again.piecesDownloaded, before.piecesDownloaded + 1, 'exactly the damaged piece was fetched again')
  t.same(await sameFiles(join(seeded.work, 'source'), join(seeded.work, 'out'), seeded.files), [], 'the file is whole again, byte-equal')

  // The seeder alone (no one to fetch from): its damaged piece shows as missing.
  await leecher.api.request('DELETE', `/v1/torrents/${infoHash}`)
  await corruptByte(join(seeded.work, 'source', 'verify-me.bin'), 10)
  const cli = await runCli(['verify', infoHash, '--wait', '--data-dir', seeder.dataDir, '--json'])
  t.equal(cli.code, 0, cli.stderr)
  const checked = JSON.parse(cli.stdout) as TorrentView
  t.equal(checked.verifiedPieces, checked.pieceCount! - 1, 'bidtorrent verify --wait: one piece fewer verified')
  t.equal(checked.state, 'downloading', 'and it wants that piece back')
  const listed = await remote(seeder, ['-l'])
  t.notMatch(listed.out, /100%.*verify-me\.bin/, `transmission-remote no longer lists it complete:\n${listed.out}`)
  const fields = await rpc(seeder, 'torrent-get', { ids: [infoHash], fields: ['status', 'recheckProgress', 'percentDone'] })
  t.match(fields, { torrents: [{ status: 4, recheckProgress: 0 }] }, 'status downloading once the check is over')
})

/** A tracker that counts announces and names no peers (an interval of an hour: a second announce soon is asked for). */
async function countingTracker (t: Cleanup): Promise<{ url: string, announces: () => number }> {
  let count = 0
  const server = createServer((request, response) => {
    if (request.url?.startsWith('/announce')) count++
    response.end('d8:intervali3600e5:peers0:e')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`, announces: () => count }
}

t.test('transmission-remote --reannounce: the tracker hears from the torrent at once', async (t) => {
  const tracker = await countingTracker(t)
  const seeder = await startDaemon(t)
  const seeded = await seedFile(t, seeder, 'announced.bin', MiB, ['--tracker', tracker.url])
  await waitFor('the first announce', () => (tracker.announces() > 0 ? true : undefined), 60_000)
  const before = tracker.announces()
  const answer = await remote(seeder, ['-t', seeded.torrent.infoHash, '--reannounce'])
  t.match(answer.out, /responded: "success"/, answer.out.trim())
  await waitFor('another announce', () => (tracker.announces() > before ? true : undefined), 60_000)
  t.pass('announced again long before the tracker\'s interval')
  t.equal((await runCli(['reannounce', seeded.torrent.infoHash, '--data-dir', seeder.dataDir])).code, 0, 'bidtorrent reannounce too')
  await waitFor('a third announce', () => (tracker.announces() > before + 1 ? true : undefined), 60_000)
})

t.test('transmission-remote --move and --find: the data moves whole to the new folder, or is looked for and checked there', async (t) => {
  const seeder = await startDaemon(t)
  const work = await tempDir(t)
  const files = [{ path: 'set/one.bin', size: 2 * MiB }, { path: 'set/deep/two.bin', size: 1 * MiB + 77 }]
  await writeFixture(join(work, 'source'), files)
  const seeded = await runCli(['seed', join(work, 'source', 'set'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash } = JSON.parse(seeded.stdout) as TorrentView
  await cp(join(work, 'source'), join(work, 'reference'), { recursive: true })

  const moved = await remote(seeder, ['-t', infoHash, '--move', join(work, 'moved')])
  t.match(moved.out, /responded: "success"/, moved.out.trim())
  const after = await waitFor('seeding from the new folder', async () => {
    const view = await seeder.torrent(infoHash)
    return view.state === 'seeding' && view.directory === join(work, 'moved') ? view : undefined
  }, 60_000)
  t.equal(after.verifiedPieces, after.pieceCount, 'every piece still verified')
  t.same(await sameFiles(join(work, 'reference'), join(work, 'moved'), files), [], 'the files are in the new folder, byte-equal')
  t.notOk(existsSync(join(work, 'source', 'set')), 'and gone from the old one, its emptied folders too')

  // The data copied elsewhere by hand: --find points the torrent there, and it checks what it finds.
  await cp(join(work, 'moved'), join(work, 'copy'), { recursive: true })
  await corruptByte(join(work, 'copy', 'set', 'one.bin'), 5)
  const found = await remote(seeder, ['-t', infoHash, '--find', join(work, 'copy')])
  t.match(found.out, /responded: "success"/, found.out.trim())
  const checked = await waitFor('checked in the folder named', async () => {
    const view = await seeder.torrent(infoHash)
    return view.directory === join(work, 'copy') && view.state !== 'checking' ? view : undefined
  }, 60_000)
  t.equal(checked.verifiedPieces, checked.pieceCount! - 1, 'the copy was checked: its damaged piece is missing')
  t.ok(existsSync(join(work, 'moved', 'set', 'one.bin')), 'nothing was moved or deleted in the folder it left')

  const refused = await runCli(['move', infoHash, join(work, 'moved'), '--data-dir', seeder.dataDir])
  t.not(refused.code, 0, 'moving over files already there is refused')
  t.match(refused.stderr, /already exists/, refused.stderr.trim())
  t.ok(existsSync(join(work, 'copy', 'set', 'one.bin')), 'and the torrent\'s files stay where they are')

  // Another filesystem (tmpfs): copied, compared, and only then deleted.
  if (!existsSync('/dev/shm')) return
  const elsewhere = await mkdtemp('/dev/shm/bidtorrent-move-')
  t.teardown(() => rm(elsewhere, { recursive: true, force: true }))
  const sums = await Promise.all(files.map((file) => sha256File(join(work, 'copy', file.path))))
  const across = await runCli(['move', infoHash, elsewhere, '--data-dir', seeder.dataDir])
  t.equal(across.code, 0, across.stderr)
  t.same(await Promise.all(files.map((file) => sha256File(join(elsewhere, file.path)))), sums, 'moved to another filesystem, byte-equal')
  t.notOk(existsSync(join(work, 'copy', 'set')), 'the originals deleted once copied')
  t.equal((await seeder.torrent(infoHash)).directory, elsewhere, 'the torrent is there')
})

t.test('the market over the RPC: bidtorrent-set-bid, and bid, budget, spent and earned in torrent-get', async (t) => {
  const seller = await marketDaemon(t)
  const buyer = await marketDaemon(t)
  const { work, torrent } = await seedFile(t, seller.daemon, 'market.bin', 2 * MiB, ['--floor', '20BTT/MiB'])
  await buyer.daemon.api.request('POST', '/v1/torrents', { magnet: torrent.magnet, directory: join(work, 'out'), paused: true, peers: [`127.0.0.1:${seller.daemon.peerPort}`] })
  await t.rejects(rpc(buyer.daemon, 'bidtorrent-set-bid', { ids: [torrent.infoHash], bid: '50BTT/MiB' }), /no budget/, 'a bid without a budget: refused, saying why')
  await t.rejects(rpc(buyer.daemon, 'bidtorrent-set-bid', { ids: [torrent.infoHash], bid: 'lots' }), /price/, 'a bid that is not a price: refused')
  await rpc(buyer.daemon, 'bidtorrent-set-bid', { ids: [torrent.infoHash], bid: '50BTT/MiB', budget: '10000BTT' })
  const fields = ['bidtorrent-bid', 'bidtorrent-budget', 'bidtorrent-spent', 'bidtorrent-earned']
  t.match(await rpc(buyer.daemon, 'torrent-get', { ids: [torrent.infoHash], fields }), {
    torrents: [{ 'bidtorrent-bid': (50n * BASE_UNITS_PER_BTT).toString(), 'bidtorrent-budget': (10_000n * BASE_UNITS_PER_BTT).toString(), 'bidtorrent-spent': '0', 'bidtorrent-earned': '0' }]
  }, 'the bid (base units per MiB) and the budget (base units), nothing spent yet')
  await rpc(buyer.daemon, 'torrent-start', { ids: [torrent.infoHash] })
  await waitComplete(buyer.daemon, torrent.infoHash)
  const spent = await waitFor('the buyer\'s spending, confirmed', async () => {
    const [row] = (await rpc(buyer.daemon, 'torrent-get', { ids: [torrent.infoHash], fields })).torrents as Array<Record<string, string>>
    return BigInt(row!['bidtorrent-spent']!) > 0n ? BigInt(row!['bidtorrent-spent']!) : undefined
  }, 60_000)
  const earned = await waitFor('the seller\'s earnings', async () => {
    const [row] = (await rpc(seller.daemon, 'torrent-get', { ids: [torrent.infoHash], fields })).torrents as Array<Record<string, string>>
    return BigInt(row!['bidtorrent-earned']!) >= spent ? BigInt(row!['bidtorrent-earned']!) : undefined
  }, 60_000)
  t.ok(earned >= spent, `the seller earned what the buyer spent (${earned} >= ${spent})`)
  await rpc(seller.daemon, 'bidtorrent-set-floor', { ids: [torrent.infoHash], floor: '30BTT/MiB' })
  t.equal((await seller.daemon.torrent(torrent.infoHash)).market?.floor, (30n * BASE_UNITS_PER_BTT).toString(), 'bidtorrent-set-floor changes the floor')
})

t.test('apiHost binds the control API and the RPC to the address the user names', async (t) => {
  const named = await startDaemon(t, { env: { BIDTORRENT_API_HOST: '127.0.0.2' } })
  const { url } = await endpointOf(named)
  t.equal(new URL(url).hostname, '127.0.0.2', 'api.json names that address')
  t.equal((await remote(named, ['-l'])).code, 0, 'transmission-remote reaches the RPC there')
  t.equal((await runCli(['ls', '--data-dir', named.dataDir])).code, 0, 'and the CLI the API')
  const loopback = await fetch(`http://127.0.0.1:${named.apiPort}/v1/status`).then(() => 'answered', (err: unknown) => ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code)
  t.equal(loopback, 'ECONNREFUSED', 'nothing listens on 127.0.0.1 for it')
  t.notMatch(named.logs(), /listen beyond this machine/, 'a loopback address: no warning')
  await t.rejects(startDaemon(t, { env: { BIDTORRENT_API_HOST: 'example.com' } }), /apiHost must be an IP address/, 'a name that is not an address: the daemon refuses to start, saying why')
  t.equal(apiUrlOf('0.0.0.0', 7070), 'http://127.0.0.1:7070', 'a wildcard is reached through the loopback')
  t.equal(apiUrlOf('fe80::1', 7070), 'http://[fe80::1]:7070', 'an IPv6 address in brackets')
  t.ok(isLoopback('::1') && isLoopback('127.0.0.2') && !isLoopback('0.0.0.0') && !isLoopback('192.168.1.2'), 'which addresses warn: all but the loopback')
})
