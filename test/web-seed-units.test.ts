import t from 'tap'
import bencode from 'bencode'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { contributionsOf, newPieceProgress } from '../src/engine/blocks.js'
import { parseMagnet } from '../src/engine/magnet.js'
import { parseTorrentFile } from '../src/engine/metainfo.js'
import { fetchRange, retryAfterOf, WebSeedAgents, WebSeedFetchError } from '../src/engine/web-seed-http.js'
import { afterFailure, afterSuccess, HEALTHY, pickWebSeedRun } from '../src/engine/web-seed-plan.js'
import { checkWebSeedUrl, fileRanges, fileUrl, isPrivateAddress } from '../src/engine/web-seed-url.js'

const files = [
  { path: 'rel/a b.bin', length: 100, offset: 0, pad: false },
  { path: 'rel/empty', length: 0, offset: 100, pad: false },
  { path: 'rel/d/c#?.txt', length: 50, offset: 100, pad: false }
]

t.test('a range of the torrent splits into per-file ranges, empty files skipped', async (t) => {
  t.same(fileRanges(files, 90, 30), [
    { file: 0, position: 90, length: 10, bufferOffset: 0 },
    { file: 2, position: 0, length: 20, bufferOffset: 10 }
  ])
  t.same(fileRanges(files, 0, 150).map((range) => range.length), [100, 50])
})

t.test('file URLs: a single file is the URL; a folder URL gets name and path, each component encoded', async (t) => {
  const single = { files: [{ path: 'one.bin', length: 5, offset: 0, pad: false }] }
  t.equal(fileUrl(new URL('http://h/x/one.bin'), single, single.files[0]!).href, 'http://h/x/one.bin')
  t.equal(fileUrl(new URL('http://h/x/'), single, single.files[0]!).href, 'http://h/x/one.bin')
  const multi = { files }
  t.equal(fileUrl(new URL('http://h/pub/'), multi, files[0]!).href, 'http://h/pub/rel/a%20b.bin')
  t.equal(fileUrl(new URL('http://h/pub'), multi, files[2]!).href, 'http://h/pub/rel/d/c%23%3F.txt')
  t.equal(fileUrl(new URL('https://h/pub/?k=1'), multi, files[0]!).href, 'https://h/pub/rel/a%20b.bin?k=1', 'a query stays after the path')
})

t.test('only http(s) URLs; private, loopback and link-local addresses are named as such', async (t) => {
  t.ok('url' in checkWebSeedUrl('https://cdn.example.com/x'))
  t.match(checkWebSeedUrl('ftp://example.com/x'), { refused: /ftp: is not http/ })
  t.match(checkWebSeedUrl('file:///etc/passwd'), { refused: /file:/ })
  t.match(checkWebSeedUrl('not a url'), { refused: /not a valid URL/ })
  for (const address of ['127.0.0.1', '10.1.2.3', '192.168.1.1', '172.20.0.1', '169.254.169.254', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '0.0.0.0']) {
    t.ok(isPrivateAddress(address), `${address} is private`)
  }
  for (const address of ['93.184.216.34', '2606:4700::1111', '::ffff:8.8.8.8']) t.notOk(isPrivateAddress(address), `${address} is public`)
})

t.test('the planner takes a run of free pieces, the ones no peer has first', async (t) => {
  const copies = [2, 2, 0, 0, 0, 1, 0]
  const have = new Set([3])
  const pick = (maxPieces: number): ReturnType<typeof pickWebSeedRun> => pickWebSeedRun({ pieceCount: 7, maxPieces, free: (i) => !have.has(i), copies: (i) => copies[i]! })
  t.same(pick(4), { first: 2, count: 1 }, 'piece 2 (no copies); 3 is had, so the run stops')
  have.add(2)
  t.same(pick(4), { first: 4, count: 1 }, 'the run does not take piece 5, which a peer has')
  have.add(4).add(6)
  t.same(pick(4), { first: 5, count: 1 }, 'then the fewest copies')
  t.equal(pickWebSeedRun({ pieceCount: 3, maxPieces: 2, free: () => false, copies: () => 0 }), undefined, 'nothing free: idle')
  t.same(pickWebSeedRun({ pieceCount: 10, maxPieces: 3, free: () => true, copies: () => 0 }), { first: 0, count: 3 })
  const ranks = [1, 1, 3, 3, 3, 2]
  t.same(pickWebSeedRun({ pieceCount: 6, maxPieces: 4, free: () => true, copies: (i) => (i === 2 ? 1 : 0), rank: (i) => ranks[i]! }), { first: 3, count: 2 },
    'the highest priority first (file selection), the fewest copies within it')
})

t.test('back-off: exponential, Retry-After honoured, a few 404s give up, refusal at once', async (t) => {
  const first = afterFailure(HEALTHY, { kind: 'http', status: 500, message: 'HTTP 500' }, 0)
  const second = afterFailure(first, { kind: 'network', message: 'ECONNREFUSED' }, 0)
  t.equal(first.retryAt, 1000)
  t.equal(second.retryAt, 2000)
  t.equal(afterFailure(HEALTHY, { kind: 'http', status: 503, retryAfterMs: 30_000, message: 'HTTP 503' }, 0).retryAt, 30_000)
  let health = HEALTHY
  for (let i = 0; i < 3; i++) health = afterFailure(health, { kind: 'http', status: 404, message: 'HTTP 404' }, 0)
  t.match(health.gaveUp, /gave up after 3 failures in a row: HTTP 404/)
  t.equal(afterFailure(HEALTHY, { kind: 'http', status: 429, message: 'x' }, 0).hardFailures, 0, '429 is not a hard failure')
  t.ok(afterFailure(HEALTHY, { kind: 'refused', message: 'private' }, 0).gaveUp)
  t.same(afterSuccess(second), HEALTHY)
  t.equal(retryAfterOf('120'), 120_000)
  t.equal(retryAfterOf(new Date(61_000).toUTCString(), 1000), 60_000)
  t.equal(retryAfterOf('999999999'), 3_600_000, 'capped at an hour')
  t.equal(retryAfterOf('soon'), undefined)
})

t.test('url-list (a string or a list) and ws= become web seeds; a web seed piece is paid to nobody', async (t) => {
  const info = { name: 'x', 'piece length': 16384, length: 10, pieces: Buffer.alloc(20) }
  t.same((await parseTorrentFile(bencode.encode({ info, 'url-list': 'http://a/x' }))).webSeeds, ['http://a/x'])
  const listed = await parseTorrentFile(bencode.encode({ info, 'url-list': ['http://a/x', 'http://b/x'] }))
  t.same(listed.webSeeds, ['http://a/x', 'http://b/x'])
  t.same((await parseTorrentFile(listed.torrentFile)).webSeeds, listed.webSeeds, 'kept in the stored .torrent (resume, export)')
  const hostile = await parseTorrentFile(bencode.encode({ info, 'url-list': [5, ['x'], 'http://a/x'] }))
  t.same(hostile.webSeeds, ['http://a/x'], 'a malformed url-list keeps its strings, and the torrent')
  t.same((await parseTorrentFile(bencode.encode({ info, 'url-list': 7 }))).webSeeds, [])
  t.equal(hostile.infoHash, listed.infoHash, 'with the same info hash')
  const magnet = await parseMagnet(`magnet:?xt=urn:btih:${'ab'.repeat(20)}&ws=${encodeURIComponent('http://c/x y')}&as=http://d/x`)
  t.same(magnet.webSeeds, ['http://c/x y'], 'ws only, not as')
  const piece = newPieceProgress(0, 16384, Buffer.alloc(16384))
  piece.senders.fill('http://a/x')
  t.same(contributionsOf(piece), [], 'no contribution for the market')
})

t.test('fetchRange: 206 into place; more than asked, 200 for a part, errors and redirects', async (t) => {
  const body = Buffer.from('0123456789abcdefghij')
  let answer: (range: string, response: ServerResponse) => void = () => {}
  const server = createServer((request, response) => answer(request.headers.range ?? '', response))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const agents = new WebSeedAgents(2)
  t.teardown(() => agents.destroy())
  const get = async (allowPrivate = true, host = base): Promise<Buffer> => {
    const into = Buffer.alloc(6)
    await fetchRange({ url: new URL(host + '/f'), position: 4, length: 5, fileLength: 20, into, offset: 1, signal: new AbortController().signal }, { allowPrivate, timeoutMs: 5000, agents })
    return into
  }
  answer = (range, response) => {
    const [, from, to] = /bytes=(\d+)-(\d+)/.exec(range)!
    response.writeHead(206, { 'Content-Range': `bytes ${from}-${to}/20` }).end(body.subarray(Number(from), Number(to) + 1))
  }
  t.same(await get(), Buffer.from('\x0045678'), 'the range lands at the offset')
  await t.rejects(get(false), { kind: 'refused', message: /webSeedsAllowPrivate/ }, 'loopback refused unless allowed')
  await t.rejects(get(false, base.replace('127.0.0.1', 'localhost')), { kind: 'refused', message: /localhost is a private or loopback address/ }, 'a name is checked at its lookup')
  answer = (_range, response) => { response.writeHead(206, { 'Content-Range': 'bytes 4-8/20' }).end(body) }
  await t.rejects(get(), { kind: 'protocol', message: /more than the 5 bytes/ })
  answer = (_range, response) => { response.writeHead(200).end(body) }
  await t.rejects(get(), { kind: 'protocol', message: /ignores range requests/ })
  answer = (_range, response) => { response.writeHead(503, { 'Retry-After': '7' }).end() }
  const unavailable = await get().catch((err: unknown) => err)
  t.match(unavailable, { kind: 'http', status: 503, retryAfterMs: 7000 })
  t.ok(unavailable instanceof WebSeedFetchError)
  let hops = 0
  answer = (_range, response) => {
    if (hops++ < 2) return response.writeHead(302, { Location: `/hop${hops}` }).end()
    response.writeHead(206, { 'Content-Range': 'bytes 4-8/20' }).end(body.subarray(4, 9))
  }
  t.same(await get(), Buffer.from('\x0045678'), 'redirects are followed')
  answer = (_range, response) => { response.writeHead(302, { Location: 'file:///etc/passwd' }).end() }
  await t.rejects(get(), { kind: 'refused', message: /file: is not http/ }, 'a redirect to file: is refused')
  answer = (_range, response) => { response.writeHead(302, { Location: '/loop' }).end() }
  await t.rejects(get(), { kind: 'protocol', message: /redirects/ })
})
