import { pieceLengthOf, type TorrentFileEntry, type TorrentMeta } from './metainfo.js'

/** The part of one file that a range of the torrent's byte stream covers. */
export interface FileSpan {
  readonly file: TorrentFileEntry
  readonly fileIndex: number
  /** Offset inside the file. */
  readonly position: number
  /** Offset inside the range. */
  readonly rangeOffset: number
  readonly length: number
}

/** The files that bytes [start, end) of the torrent fall in, in order (empty files skipped). */
export function spansOf (files: readonly TorrentFileEntry[], start: number, end: number): FileSpan[] {
  // Binary search for the first file that ends after `start`.
  let low = 0
  let high = files.length - 1
  while (low < high) {
    const mid = (low + high) >>> 1
    const file = files[mid]!
    if (file.offset + file.length <= start) low = mid + 1
    else high = mid
  }
  const spans: FileSpan[] = []
  for (let fileIndex = low; fileIndex < files.length; fileIndex++) {
    const file = files[fileIndex]!
    if (file.offset >= end) break
    const from = Math.max(start, file.offset)
    const to = Math.min(end, file.offset + file.length)
    if (to > from) spans.push({ file, fileIndex, position: from - file.offset, rangeOffset: from - start, length: to - from })
  }
  return spans
}

/** The files a piece falls in. */
export function pieceSpans (meta: Pick<TorrentMeta, 'files' | 'pieceLength' | 'length' | 'pieceCount'>, index: number): FileSpan[] {
  const start = index * meta.pieceLength
  return spansOf(meta.files, start, start + pieceLengthOf(meta, index))
}
