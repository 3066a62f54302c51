import t from 'tap'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import bencode from 'bencode'
import { createTorrentFrom } from '../src/engine/create.js'
import { magnetLink, parseMagnet } from '../src/engine/magnet.js'
import { parseTorrentFile, pieceDataLength } from '../src/engine/metainfo.js'
import { bdecode, topLevelSpans } from '../src/engine/v2/bdecode.js'
import { answerHashRequest, encodeHashMessage, parseHashRequest } from '../src/engine/v2/hash-messages.js'
import { layerRequests, provenHashes } from '../src/engine/v2/layer-fetch.js'
import type { V2Meta } from '../src/engine/v2/metainfo-v2.js'
import { randomBytes } from 'node:crypto'
import { MERKLE_BLOCK, blockHashes, merkleRoot, pieceRoot, piecesRootOfLayer, zeroRoot } from '../src/engine/v2/merkle.js'
import { SYSTEM_PYTHON } from '../testkit/clients.js'
import { tempDir } from '../testkit/daemon.js'
import { writeFixture } from '../testkit/fixture.js'

const KiB = 1024
const FILES = [
  { path: 'pack/big.bin', size: 200 * KiB + 3 },
  { path: 'pack/small.bin', size: 20 * KiB },
  { path: 'pack/tiny.txt', size: 5 }
]
const PIECE = 64 * KiB
const sha256 = (...parts: Uint8Array[]): Buffer => parts.reduce((hash, part) => hash.update(part), createHash('sha256')).digest()

async function libtorrentTorrent (work: string, format: string, path = join(work, 'src', 'pack')): Promise<Buffer> {
  const file = join(work, `${format}.torrent`)
  const child = spawn(SYSTEM_PYTHON, [new URL('../../testkit/lt_create.py', import.meta.url).pathname, '--format', format, '--piece-length', String(PIECE), path, file], { stdio: 'ignore' })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`lt_create.py exited with ${code}`)
  return readFile(file)
}

t.test('merkle math, by hand', async (t) => {
  const a = sha256(Buffer.from('a'))
  const b = sha256(Buffer.from('b'))
  t.same(merkleRoot(a, 1), a, 'one leaf is its own root')
  t.same(merkleRoot(Buffer.concat([a, b]), 2), sha256(a, b))
  const zero = Buffer.alloc(32)
  t.same(merkleRoot(a, 4), sha256(sha256(a, zero), sha256(zero, zero)), 'missing leaves are zero hashes')
  t.same(zeroRoot(4), sha256(sha256(zero, zero), sha256(zero, zero)))
  t.same(merkleRoot(a, 2, zeroRoot(4)), sha256(a, zeroRoot(4)), 'a piece layer pads with the roots of zero pieces')
  const data = Buffer.alloc(MERKLE_BLOCK + 10, 7)
  t.same(blockHashes(data), Buffer.concat([sha256(data.subarray(0, MERKLE_BLOCK)), sha256(data.subarray(MERKLE_BLOCK))]), 'the last block is hashed as long as it is')
})

t.test('libtorrent\'s v2 torrent: every piece hashes to its piece layer entry, every layer to its pieces root', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'src'), FILES)
  const torrent = await libtorrentTorrent(work, 'v2')
  const meta = await parseTorrentFile(torrent)
  const v2 = meta.v2!
  t.equal(meta.pieceCount, 4 + 1 + 1)
  t.equal(meta.length, meta.pieceCount * PIECE, 'every file, the last too, ends at a piece boundary')
  t.same(meta.files.filter((file) => !file.pad).map((file) => file.offset), [0, 4 * PIECE, 5 * PIECE])
  t.same(meta.files.filter((file) => file.pad).map((file) => file.length), [PIECE - (200 * KiB + 3) % PIECE, PIECE - 20 * KiB, PIECE - 5], 'the alignment is pad files (zeros, never on disk)')
  for (const [i, file] of FILES.entries()) {
    const data = await readFile(join(work, 'src', file.path))
    const entry = v2.files[i]!
    for (let piece = 0; piece < entry.pieceCount; piece++) {
      const index = entry.firstPiece + piece
      const bytes = data.subarray(piece * PIECE, piece * PIECE + PIECE)
      t.equal(pieceDataLength(meta, index), bytes.length)
      t.same(pieceRoot(bytes, v2.pieceLeaves[index]!), v2.pieceRoots.subarray(index * 32, index * 32 + 32), `${file.path} piece ${piece}`)
    }
    if (entry.pieceCount > 1) t.same(piecesRootOfLayer(v2.pieceRoots.subarray(entry.firstPiece * 32, (entry.firstPiece + entry.pieceCount) * 32), PIECE), entry.piecesRoot)
    else t.same(pieceRoot(data, v2.pieceLeaves[entry.firstPiece]!), entry.piecesRoot, `${file.path}: a file of one piece hashes to its pieces root`)
  }
  t.equal(v2.infoHash, sha256(topLevelSpans(torrent).get('info')!).toString('hex'))
  const magnet = await parseMagnet(magnetLink(meta))
  t.equal(magnet.infoHashV2, v2.infoHash)
  t.equal(magnet.infoHash, v2.infoHash.slice(0, 40), 'a btmh magnet joins the swarm of the truncated v2 hash')
})

t.test('a hybrid keeps its v1 info hash and its v1 file list, pad files marked', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'src'), FILES)
  const torrent = await libtorrentTorrent(work, 'hybrid')
  const meta = await parseTorrentFile(torrent)
  const v1Info = (bencode.decode(torrent) as { info: unknown }).info
  t.equal(meta.infoHash, createHash('sha1').update(bencode.encode(v1Info)).digest('hex'))
  t.equal(meta.pieceHashes.length, meta.pieceCount * 20)
  t.same(meta.files.filter((file) => !file.pad).map((file) => file.path), FILES.map((file) => file.path))
  const magnet = await parseMagnet(magnetLink(meta))
  t.same([magnet.infoHash, magnet.infoHashV2], [meta.infoHash, meta.v2!.infoHash], 'a hybrid magnet carries both topics')
})

t.test('hostile v2 metainfo is refused with a clear error', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'src'), FILES)
  const torrent = await libtorrentTorrent(work, 'v2')
  const spans = topLevelSpans(torrent)
  const info = spans.get('info')!
  const layers = spans.get('piece layers')!
  const without = Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')])
  await t.rejects(parseTorrentFile(without), /no piece layer for "pack\/big.bin"/)
  const flipped = Buffer.from(layers)
  flipped[flipped.length - 10]! ^= 1
  const tampered = Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('12:piece layers'), flipped, Buffer.from('e')])
  await t.rejects(parseTorrentFile(tampered), /does not match its pieces root/)
  t.throws(() => bdecode(Buffer.from('l'.repeat(100) + 'e'.repeat(100))), /nests too deep/)
  t.throws(() => bdecode(Buffer.from('5:ab')), /cut short/)
  await t.rejects(parseMagnet('magnet:?xt=urn:btmh:1220abcd'), /not a SHA-256 multihash/)
})

t.test('bidtorrent makes the v2 and hybrid torrents libtorrent makes (same info hashes), a folder and a single file', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'src'), [...FILES, { path: 'pack/empty.txt', size: 0 }, { path: 'pack/deep/er/x.bin', size: 3 * PIECE }])
  for (const format of ['v2', 'hybrid'] as const) {
    for (const path of [join(work, 'src', 'pack'), join(work, 'src', 'pack', 'big.bin')]) {
      const theirs = await parseTorrentFile(await libtorrentTorrent(work, format, path))
      const ours = await createTorrentFrom(path, { format, pieceLength: PIECE })
      t.same([ours.infoHash, ours.v2?.infoHash], [theirs.infoHash, theirs.v2?.infoHash], `${format} of ${path.slice(work.length)}`)
      t.same(topLevelSpans(ours.torrentFile).get('piece layers'), topLevelSpans(theirs.torrentFile).get('piece layers'), 'and the same piece layers')
    }
  }
})

t.test('hash requests (BEP 52) are answered from the piece layers, with uncles that prove them to the pieces root', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'src'), FILES)
  const meta = await parseTorrentFile(await libtorrentTorrent(work, 'v2'))
  const v2 = meta.v2!
  const big = v2.files[0]!
  const piecesRoot = big.piecesRoot!
  const pieceHeight = Math.log2(PIECE / (16 * KiB))
  const whole = answerHashRequest(v2, PIECE, { piecesRoot, base: pieceHeight, index: 0, count: 4, proofLayers: 0 })!
  t.same(piecesRootOfLayer(Buffer.concat(whole), PIECE), piecesRoot, 'the whole piece layer')
  const [h2, h3, uncle] = answerHashRequest(v2, PIECE, { piecesRoot, base: pieceHeight, index: 2, count: 2, proofLayers: 1 })!
  t.same(sha256(uncle!, sha256(h2!, h3!)), piecesRoot, 'half of it and the uncle that proves it')
  t.equal(answerHashRequest(v2, PIECE, { piecesRoot, base: 0, index: 0, count: 4, proofLayers: 0 }), undefined, 'the block layer is not kept: rejected')
  t.equal(answerHashRequest(v2, PIECE, { piecesRoot, base: pieceHeight, index: 1, count: 2, proofLayers: 0 }), undefined, 'a range not aligned to its count: rejected')
  t.equal(answerHashRequest(v2, PIECE, { piecesRoot: Buffer.alloc(32), base: pieceHeight, index: 0, count: 4, proofLayers: 0 }), undefined, 'an unknown root: rejected')
  const request = { piecesRoot, base: pieceHeight, index: 0, count: 4, proofLayers: 0 }
  const reject = encodeHashMessage(request)
  t.equal(reject[4], 23)
  const asked = Buffer.from(reject.subarray(4))
  asked[0] = 21
  t.same(parseHashRequest(asked), request, 'a request round-trips')
  t.equal(parseHashRequest(asked.subarray(0, 20)), undefined, 'a short one is ignored')
})

t.test('a piece layer of 1000 pieces is fetched in chunks of 512, each proven to the pieces root by its uncles', async (t) => {
  const pieceCount = 1000
  const layer = randomBytes(pieceCount * 32)
  const piecesRoot = piecesRootOfLayer(layer, PIECE)
  const v2 = { files: [{ path: 'x', length: pieceCount * PIECE, offset: 0, piecesRoot, firstPiece: 0, pieceCount }], pieceRoots: layer } as unknown as V2Meta
  const requests = layerRequests({ piecesRoot, pieceCount }, PIECE)
  t.same(requests.map((request) => [request.index, request.count]), [[0, 512], [512, 512]])
  const parts = requests.map((request) => {
    const answer = Buffer.concat(answerHashRequest(v2, PIECE, request)!)
    t.ok(answer.length > request.count * 32, 'with uncles')
    const tampered = Buffer.from(answer)
    tampered[tampered.length - 1]! ^= 1
    t.equal(provenHashes(request, tampered), undefined, 'a wrong uncle proves nothing')
    return provenHashes(request, answer)!
  })
  t.same(Buffer.concat(parts).subarray(0, pieceCount * 32), layer, 'the layer, proven')
})
