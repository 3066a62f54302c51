import { BLOCK_SIZE, type PieceProgress } from './blocks.js'
import { pieceSpans } from './file-spans.js'
import { pieceLengthOf, type TorrentMeta } from './metainfo.js'

/**
 * The torrent's pad files (BEP 47) as zeros in memory: a block that lies wholly in pad space is
 * never asked of a peer (it is zeros, from nobody, and paid to nobody), and a piece that lies
 * wholly in it is never downloaded (the check at start hashes its zeros).
 */
export class PadSpace {
  /** Pieces with no byte outside pad files. */
  readonly padOnly = new Set<number>()
  readonly any: boolean

  constructor (private readonly meta: TorrentMeta) {
    this.any = meta.files.some((file) => file.pad)
    if (!this.any) return
    for (const [start, end] of padRanges(meta)) {
      for (let index = Math.ceil(start / meta.pieceLength); index < meta.pieceCount; index++) {
        const pieceStart = index * meta.pieceLength
        if (pieceStart + pieceLengthOf(meta, index) > end) break
        this.padOnly.add(index)
      }
    }
  }

  /** Zeros the pad bytes of a piece's buffer and counts the blocks wholly in them as received. */
  fill (piece: PieceProgress): void {
    if (!this.any) return
    for (const [start, end] of mergedPadSpans(this.meta, piece.index)) {
      piece.buffer.fill(0, start, end)
      for (let block = Math.ceil(start / BLOCK_SIZE); block < piece.blockCount; block++) {
        if (Math.min((block + 1) * BLOCK_SIZE, piece.length) > end) break
        if (piece.received[block]) continue
        piece.received[block] = 1
        piece.receivedCount++
      }
    }
  }
}

/** Runs of adjacent pad files, as [start, end) of the torrent's byte stream. */
function padRanges (meta: TorrentMeta): Array<[number, number]> {
  const ranges: Array<[number, number]> = []
  for (const file of meta.files) {
    if (!file.pad || file.length === 0) continue
    const last = ranges.at(-1)
    if (last && last[1] === file.offset) last[1] += file.length
    else ranges.push([file.offset, file.offset + file.length])
  }
  return ranges
}

/** Runs of pad bytes inside one piece, as [start, end) offsets in the piece. */
function mergedPadSpans (meta: TorrentMeta, index: number): Array<[number, number]> {
  const runs: Array<[number, number]> = []
  for (const span of pieceSpans(meta, index)) {
    if (!span.file.pad) continue
    const last = runs.at(-1)
    if (last && last[1] === span.rangeOffset) last[1] += span.length
    else runs.push([span.rangeOffset, span.rangeOffset + span.length])
  }
  return runs
}
