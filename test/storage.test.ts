import { createHash } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { createTorrentFrom } from '../src/engine/create.js'
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
