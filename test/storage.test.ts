import bencode from 'bencode'
import { createHash, randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { newPieceProgress } from '../src/engine/blocks.js'
import { createTorrentFrom } from '../src/engine/create.js'
import { parseTorrentFile, type TorrentMeta } from '../src/engine/metainfo.js'
import { PadSpace } from '../src/engine/pad-space.js'
import { PieceStorage } from '../src/engine/storage.js'
import { tempDir } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'

t.test('a torrent of many files keeps at most its pool of files open, and every piece reads and writes whole', async (t) => {
  const work = await tempDir(t)
  // 40 files of uneven sizes under 16 KiB pieces: many pieces span two or more files.
  const files = Array.from({ length: 40 }, (_, index) => ({ path: `many/part-${String(index).padStart(2, '0')}.bin`, size: 1000 + index * 777 }))
  await writeFixture(join(work, 'source'), files)
  const meta = await createTorrentFrom(join(work, 'source', 'many'), { pieceLength: 16 * 1024 })
  const source = new PieceStorage(meta, join(work, 'source'), 4)
  const copy = new PieceStorage(meta, join(work, 'copy'), 4)
  t.teardown(async () => { await source.close(); await copy.close() })
  await copy.allocate()

  let mostOpen = 0
  const mismatched: number[] = []
  const buffer = new Uint8Array(meta.pieceLength)
  for (let index = 0; index < meta.pieceCount; index++) {
    const piece = await source.readPiece(index, buffer)
    if (createHash('sha1').update(piece).digest('hex') !== meta.pieceHashes.subarray(index * 20, index * 20 + 20).toString('hex')) mismatched.push(index)
    await copy.writePiece(index, piece)
    mostOpen = Math.max(mostOpen, source.openFiles, copy.openFiles)
  }
  await copy.sync()
  t.same(mismatched, [], `all ${meta.pieceCount} pieces read back as hashed`)
  t.ok(mostOpen <= 4, `never more than 4 files open per torrent (${mostOpen} at most, for ${files.length} files)`)
  t.same(await sameFiles(join(work, 'source'), join(work, 'copy'), files), [], 'the copy written piece by piece through the pool is identical')
})

/** A .torrent of `files` (a pad file has `pad`) with 32 KiB pieces, hashed over `content` (zeros where pads are). */
async function paddedTorrent (files: ReadonlyArray<{ path: string[]; length: number; pad?: boolean }>, content: Buffer): Promise<TorrentMeta> {
  const pieceLength = 32 * 1024
  const hashes: Buffer[] = []
  for (let at = 0; at < content.length; at += pieceLength) hashes.push(createHash('sha1').update(content.subarray(at, at + pieceLength)).digest())
  const info = {
    name: 'padded',
    'piece length': pieceLength,
    pieces: Buffer.concat(hashes),
    files: files.map((file) => ({ length: file.length, path: file.path, ...(file.pad ? { attr: 'p' } : {}) }))
  }
  return parseTorrentFile(bencode.encode({ announce: 'http://127.0.0.1:1/announce', info }))
}

t.test('pad files (BEP 47): told apart by attr or by the BitComet name, never on disk, zeros when read, never requested', async (t) => {
  const work = await tempDir(t)
  const KiB = 1024
  const a = randomBytes(20 * KiB)
  const b = randomBytes(5)
  // a (20 KiB) + pad to 32 KiB; a pad of a whole piece and more (80 KiB: pieces 1 and 2 are all pad);
  // an old-style BitComet pad with no attr; the same '.pad/N' path twice; b at the end.
  const layout = [
    { path: ['a.bin'], length: a.length },
    { path: ['.pad', '12288'], length: 12 * KiB, pad: true },
    { path: ['.pad', '65536'], length: 64 * KiB, pad: true },
    { path: ['_____padding_file_0_'], length: 16 * KiB },
    { path: ['.pad', '12288'], length: 12 * KiB, pad: true },
    { path: ['b.bin'], length: b.length }
  ]
  const content = Buffer.concat([a, Buffer.alloc(12 * KiB + 64 * KiB + 16 * KiB + 12 * KiB), b])
  const meta = await paddedTorrent(layout, content)
  t.same(meta.files.map((file) => file.pad), [false, true, true, true, true, false], 'attr p and the _____padding_file_ name are pads; a repeated pad path is no duplicate')

  const pads = new PadSpace(meta)
  t.same([...pads.padOnly].sort(), [1, 2], 'the pieces wholly in pad space')
  const first = newPieceProgress(0, meta.pieceLength, Buffer.alloc(meta.pieceLength, 0xff))
  pads.fill(first)
  t.same([...first.received], [0, 0], 'piece 0: its pad (20..32 KiB) covers no whole block, so both are asked for')
  t.equal(first.buffer.subarray(20 * KiB).every((byte) => byte === 0), true, 'but its pad bytes are zeros in the buffer')
  const third = newPieceProgress(3, meta.pieceLength, Buffer.alloc(meta.pieceLength, 0xff))
  pads.fill(third)
  t.same([...third.received], [1, 0], 'piece 3: the block wholly in pad counts as received (zeros from nobody); the one holding b is asked for')

  const storage = new PieceStorage(meta, join(work, 'out'))
  t.teardown(() => storage.close())
  await storage.allocate()
  const piece = Buffer.alloc(meta.pieceLength)
  for (let index = 0; index < meta.pieceCount; index++) {
    const start = index * meta.pieceLength
    await storage.writePiece(index, content.subarray(start, start + meta.pieceLength))
  }
  await storage.sync()
  t.same((await readdir(join(work, 'out', 'padded'))).sort(), ['a.bin', 'b.bin'], 'only the real files are on disk: no .pad folder, no padding file')
  t.ok(await storage.filesPresent(), 'the files count as present without their pads')
  const read = await storage.readPiece(2, piece.fill(0xff))
  t.ok(read.every((byte) => byte === 0), 'a piece of pad space reads as zeros')
  const last = await storage.readPiece(3, piece)
  t.same(Buffer.from(last), content.subarray(3 * meta.pieceLength), 'a piece part pad, part file, reads back as hashed')
  await storage.deleteFiles()
  t.same(await readdir(join(work, 'out')), [], 'delete-data removes the real files and the folder, and no pad')
})
