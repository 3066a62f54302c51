import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { EventsPage } from '../src/api/types.js'
import { failedPiece } from '../src/engine/block-repair.js'
import { newPieceProgress } from '../src/engine/blocks.js'
import { createTorrentFrom } from '../src/engine/create.js'
import { parseTorrentFile, pieceDataLength } from '../src/engine/metainfo.js'
import { blockLayerRequest, mismatchedBlocks, pieceOfBlockRequest, provenBlockHashes } from '../src/engine/v2/block-layer.js'
import { answerBlockRequest } from '../src/engine/v2/hash-messages.js'
import { provenHashes } from '../src/engine/v2/layer-fetch.js'
import { MERKLE_BLOCK, blockHashes, nextPowerOfTwo } from '../src/engine/v2/merkle.js'
import { startLibtorrent } from '../testkit/clients.js'
import { seedFile, startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { startEvilPeer } from '../testkit/evil-peer.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli } from '../testkit/process.js'

const KiB = 1024
const PIECE = 256 * KiB

t.test('block compare: the blocks whose hash differs, and a short list counts as bad', async (t) => {
  const expected = blockHashes(Buffer.alloc(4 * MERKLE_BLOCK, 7))
  const actual = Buffer.from(expected)
  actual[2 * 32 + 5]! ^= 1
  t.same(mismatchedBlocks(actual, expected, 4), [2], 'one bad block')
  t.same(mismatchedBlocks(expected, expected, 4), [], 'none when all match')
  t.same(mismatchedBlocks(actual.subarray(0, 3 * 32), expected, 4), [2, 3], 'a block with no hash is bad')
})

t.test('block hashes: the request for a piece, our answer, and its proof against the piece hash', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'pack'), [{ path: 'big.bin', size: 3 * PIECE + 40 * KiB + 3 }, { path: 'small.bin', size: 70 * KiB }, { path: 'one.bin', size: 100 }])
  const meta = await createTorrentFrom(join(work, 'pack'), { format: 'v2', pieceLength: PIECE })
  const v2 = meta.v2!
  const data = await readFile(join(work, 'pack', 'big.bin'))
  const big = v2.files.find((file) => file.path.endsWith('big.bin'))!
  const small = v2.files.find((file) => file.path.endsWith('small.bin'))!
  const one = v2.files.find((file) => file.path.endsWith('one.bin'))!
  const blocksPerPiece = PIECE / MERKLE_BLOCK

  for (const inFile of [1, 3]) {
    const piece = big.firstPiece + inFile
    const request = blockLayerRequest(v2, PIECE, piece)!
    t.same({ ...request, piecesRoot: request.piecesRoot.toString('hex') }, { piecesRoot: big.piecesRoot!.toString('hex'), base: 0, index: inFile * blocksPerPiece, count: blocksPerPiece, proofLayers: Math.log2(blocksPerPiece) - 1 }, `piece ${inFile} of a long file: its ${blocksPerPiece} leaves, no uncles`)
    t.equal(pieceOfBlockRequest(v2, PIECE, request), piece, 'which we answer as that piece')
    const hashes = blockHashes(data.subarray(inFile * PIECE, inFile * PIECE + pieceDataLength(meta, piece)))
    const answer = Buffer.concat(answerBlockRequest(v2, PIECE, request, piece, hashes)!)
    t.equal(answer.length, blocksPerPiece * 32, 'the leaves, padded with zero hashes past the file\'s end')
    const root = v2.pieceRoots.subarray(piece * 32, piece * 32 + 32)
    t.ok(provenBlockHashes(request, answer, root)?.subarray(0, hashes.length).equals(hashes), 'proven against the piece\'s hash')
    const tampered = Buffer.from(answer)
    tampered[40]! ^= 1
    t.equal(provenBlockHashes(request, tampered, root), undefined, 'a wrong hash is not')
    // libtorrent's request: uncles up to below the root; with them the leaves prove up to the pieces root.
    const fileLayers = Math.log2(nextPowerOfTwo(Math.ceil(big.length / MERKLE_BLOCK)))
    const withUncles = { ...request, proofLayers: fileLayers - 1 }
    const proven = provenHashes(withUncles, Buffer.concat(answerBlockRequest(v2, PIECE, withUncles, piece, hashes)!))
    t.ok(proven?.equals(answer), 'with uncles, the leaves prove up to the file\'s pieces root')
  }
  t.equal(pieceOfBlockRequest(v2, PIECE, { ...blockLayerRequest(v2, PIECE, big.firstPiece)!, index: 3 }), undefined, 'a range not one piece\'s leaves is not answered')
  t.equal(pieceOfBlockRequest(v2, PIECE, { ...blockLayerRequest(v2, PIECE, big.firstPiece)!, count: 4 }), undefined, 'nor part of a piece')

  const request = blockLayerRequest(v2, PIECE, small.firstPiece)!
  t.equal(request.count, 8, 'a file of one piece: its blocks to a power of two')
  const smallData = await readFile(join(work, 'pack', 'small.bin'))
  const answer = Buffer.concat(answerBlockRequest(v2, PIECE, request, small.firstPiece, blockHashes(smallData))!)
  t.ok(provenBlockHashes(request, answer, small.piecesRoot!), 'proven against the file\'s pieces root')
  t.equal(answerBlockRequest(v2, PIECE, { ...request, proofLayers: 3 }, small.firstPiece, blockHashes(smallData)), undefined, 'no uncles above a file of one piece')
  t.equal(blockLayerRequest(v2, PIECE, one.firstPiece), undefined, 'a piece of one block needs no block hashes: its block is the bad one')
})

t.test('blame: only the senders of the bad blocks; the whole piece when none is named', async (t) => {
  const piece = newPieceProgress(0, 4 * MERKLE_BLOCK + 100, Buffer.alloc(4 * MERKLE_BLOCK + 100))
  piece.senders.splice(0, 5, 'good:1', 'good:1', 'bad:2', 'good:1', undefined)
  t.same(failedPiece(piece, [2]), { badBlocks: [2], senders: ['bad:2'], wasted: MERKLE_BLOCK }, 'one bad block: its sender alone, its bytes wasted')
  t.same(failedPiece(piece, [4]), { badBlocks: undefined, senders: ['good:1', 'bad:2'], wasted: piece.length }, 'a block nobody sent (a pad we filled) cannot be refetched: the whole piece')
  t.same(failedPiece(piece, []), { badBlocks: undefined, senders: ['good:1', 'bad:2'], wasted: piece.length }, 'no block named: the whole piece, all its senders')
  t.same(failedPiece(piece, undefined).badBlocks, undefined, 'not known: the whole piece')
})

for (const format of ['v2', 'hybrid'] as const) {
  t.test(`${format}: a corrupt block is found by its block hashes and fetched again alone; its sender is blamed and banned`, async (t) => {
    const seeder = await startDaemon(t)
    // Odd size: the last piece ends mid-block. The seeder is slow, so the corrupting peer sends most blocks.
    const { work, files, torrentFile, torrent: { infoHash } } = await seedFile(t, seeder, 'data.bin', 16 * PIECE + 5000, ['--format', format, '--piece-length', String(PIECE), '--upload-limit', '1MiB/s'])
    const meta = await parseTorrentFile(await readFile(torrentFile))
    t.ok(meta.v2, 'a v2 torrent')
    // One block (the sixth) of each of the first three pieces it is asked for: three pieces fail, three strikes.
    let corrupted = 0
    const evil = await startEvilPeer(meta, join(work, 'source'), { corrupts: (_index, offset) => offset === 5 * MERKLE_BLOCK && corrupted++ < 3 })
    t.teardown(() => evil.close())

    const leecher = await startDaemon(t)
    const added = await runCli(['add', torrentFile, '--out', join(work, 'out'), '--data-dir', leecher.dataDir,
      '--peer', `127.0.0.1:${evil.port}`, '--peer', `127.0.0.1:${seeder.peerPort}`])
    t.equal(added.code, 0, added.stderr)
    const done = await waitComplete(leecher, infoHash)

    t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the file ends byte-equal')
    t.equal(evil.corruptBlocksSent, 3, 'the bad peer sent three corrupt blocks')
    t.equal(done.hashFailures, 3, 'three pieces failed their merkle check')
    t.equal(done.blocksRefetched, 3, 'and only their bad blocks were fetched again, one each, not the pieces')
    const evilAddress = `127.0.0.1:${evil.port}`
    const { events } = await leecher.api.request<EventsPage>('GET', '/v1/events?after=0')
    const failures = events.flatMap(({ event }) => event.type === 'hash-failed' ? [event] : [])
    t.equal(failures.length, 3, 'each failure is an event')
    for (const failure of failures) t.same({ badBlocks: failure.badBlocks, senders: failure.senders }, { badBlocks: [5], senders: [evilAddress] }, `piece ${failure.index}: block 5 was bad, its sender blamed`)
    t.ok(done.bannedPeers.includes(evilAddress), 'the bad peer is banned after three strikes')
    t.notOk(done.bannedPeers.includes(`127.0.0.1:${seeder.peerPort}`), 'the honest seeder is not')
    t.match(leecher.logs(), /"message":"piece failed its hash check"/, 'each failure is logged')
  })
}

t.test('no peer sends block hashes: the whole piece is fetched again, as before', async (t) => {
  const work = await tempDir(t)
  const files = [{ path: 'data.bin', size: 8 * PIECE }]
  await writeFixture(join(work, 'source'), files)
  const meta = await createTorrentFrom(join(work, 'source', 'data.bin'), { format: 'v2', pieceLength: PIECE })
  const { infoHash } = meta
  const torrentFile = join(work, 'data.torrent')
  await writeFile(torrentFile, meta.torrentFile)
  let corrupted = 0
  const evil = await startEvilPeer(meta, join(work, 'source'), { corrupts: (_index, offset) => offset === 2 * MERKLE_BLOCK && corrupted++ < 1 })
  // A peer that does not speak BEP 52's hash messages (no v2 bit), the only other source.
  const plain = await startEvilPeer(meta, join(work, 'source'), { delivery: 'honest' })
  t.teardown(() => Promise.all([evil.close(), plain.close()]))

  const leecher = await startDaemon(t)
  const added = await runCli(['add', torrentFile, '--out', join(work, 'out'), '--data-dir', leecher.dataDir,
    '--peer', `127.0.0.1:${evil.port}`, '--peer', `127.0.0.1:${plain.port}`])
  t.equal(added.code, 0, added.stderr)
  const done = await waitComplete(leecher, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the file ends byte-equal')
  t.equal(done.hashFailures, 1, 'one piece failed')
  t.equal(done.blocksRefetched, 0, 'no block was fetched again alone')
  const { events } = await leecher.api.request<EventsPage>('GET', '/v1/events?after=0')
  const failure = events.find(({ event }) => event.type === 'hash-failed')?.event
  t.same(failure?.type === 'hash-failed' && failure.badBlocks, null, 'the failure names no bad block: the whole piece went again')
})

t.test('libtorrent as the honest seeder: it answers the request for a failed piece\'s block hashes (it sets no v2 handshake bit in a v2-only swarm)', async (t) => {
  const work = await tempDir(t)
  const files = [{ path: 'data.bin', size: 16 * PIECE + 5000 }]
  await writeFixture(join(work, 'source'), files)
  const meta = await createTorrentFrom(join(work, 'source', 'data.bin'), { format: 'v2', pieceLength: PIECE })
  const torrentFile = join(work, 'data.torrent')
  await writeFile(torrentFile, meta.torrentFile)
  const seeder = await startLibtorrent(t, ['--mode', 'seed', '--torrent', torrentFile, '--save', join(work, 'source'), '--upload-limit', String(1024 * 1024)])
  let corrupted = 0
  const evil = await startEvilPeer(meta, join(work, 'source'), { corrupts: (_index, offset) => offset === 5 * MERKLE_BLOCK && corrupted++ < 3 })
  t.teardown(() => evil.close())
  const leecher = await startDaemon(t)
  const added = await runCli(['add', torrentFile, '--out', join(work, 'out'), '--data-dir', leecher.dataDir,
    '--peer', `127.0.0.1:${evil.port}`, '--peer', `127.0.0.1:${seeder.port}`])
  t.equal(added.code, 0, added.stderr)
  const done = await waitComplete(leecher, meta.infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the file ends byte-equal')
  t.equal(done.hashFailures, 3, 'three pieces failed')
  t.equal(done.blocksRefetched, 3, 'only their bad blocks were fetched again: libtorrent sent their block hashes')
  t.ok(done.bannedPeers.includes(`127.0.0.1:${evil.port}`), 'the bad peer is banned')
})
