import type { SliceDigest } from './hash-worker.js'
import type { SeedContent } from './seed-path.js'

/** Part of one source file, read into a buffer at the next offset. */
export interface ReadSegment {
  /** Index into SeedContent.files. */
  readonly file: number
  /** Offset inside the file. */
  readonly position: number
  readonly length: number
}

/** One read into one pooled buffer, hashed in one request to a hash thread. */
export interface ContentRead {
  /** Index of the first piece it holds. */
  readonly firstPiece: number
  readonly length: number
  readonly segments: readonly ReadSegment[]
  /** The bytes the segments fill; up to `length` the rest are zeros (a hybrid's pad after a file). Default: `length`. */
  readonly dataLength?: number
}

/**
 * What a torrent format makes of the content: which reads to make, what the hash threads compute
 * over each, and what the digests become in the info dictionary. The reads, the buffers, the
 * threads, progress and cancellation are the creator's (create.ts) and the same for every format.
 *
 * v1 (BEP 3) reads the files end to end in batches of whole pieces and takes one SHA-1 per piece.
 * v2 (BEP 52) is another implementation: reads that stop at each file's end (its pieces are the
 * file's own), SHA-256 by 16 KiB for the merkle leaves, and `file tree` and `piece layers` from
 * them; a hybrid asks for both digests over the same reads, with BEP 47 pad files in the v1 list
 * (a segment of zeros, not read from disk).
 */
export interface CreationFormat {
  readonly pieceCount: number
  /** The longest read: the size of the pooled buffers. */
  readonly readBytes: number
  /** What the hash thread computes over each read. */
  readonly digests: readonly SliceDigest[]
  reads (): Iterable<ContentRead>
  /** Takes the digests of one read (reads finish in any order). */
  record (read: ContentRead, digests: readonly Uint8Array[]): void
  /** The info dictionary's fields that depend on the format, once every read is recorded. */
  infoFields (): Record<string, unknown>
  /**
   * Bencoded key/value pairs of the .torrent that sort after every other key (v2's `piece layers`,
   * whose binary keys the bencode package cannot write), once every read is recorded.
   */
  torrentTail? (): Buffer
}

/** Makes a format's plan for some content at a piece length. */
export type FormatMaker = (content: SeedContent, pieceLength: number) => CreationFormat

/** A read is this long at most (whole pieces, one at least): few enough requests that small pieces cost nothing per piece. */
export const READ_BYTES = 4 * 1024 * 1024

/**
 * The piece length create-torrent (webtorrent) chooses, so that `seed` without `--piece-length`
 * gives the torrent it gave: about a thousandth of the content (log2 rounded), 16 KiB to 4 MiB.
 */
export function defaultPieceLength (bytes: number): number {
  const rounded = Math.trunc(Math.log2(bytes < 1024 ? 1 : bytes / 1024) + 0.5)
  return Math.min(4 * 1024 * 1024, Math.max(16 * 1024, 2 ** rounded))
}

/** The reads of `lengths` end to end, `readBytes` (a multiple of the piece length) at a time. */
export function * sequentialReads (lengths: readonly number[], pieceLength: number, readBytes: number): Generator<ContentRead> {
  const total = lengths.reduce((sum, length) => sum + length, 0)
  let file = 0
  let position = 0
  for (let start = 0; start < total; start += readBytes) {
    const length = Math.min(readBytes, total - start)
    const segments: ReadSegment[] = []
    for (let wanted = length; wanted > 0;) {
      const left = lengths[file]! - position
      if (left === 0) {
        file++
        position = 0
        continue
      }
      const take = Math.min(left, wanted)
      segments.push({ file, position, length: take })
      position += take
      wanted -= take
    }
    yield { firstPiece: start / pieceLength, length, segments }
  }
}

/** BEP 3's info dictionary: the files end to end, one SHA-1 per piece. */
export const v1Format: FormatMaker = (content, pieceLength) => {
  const pieceCount = Math.ceil(content.bytes / pieceLength)
  const readBytes = Math.max(1, Math.floor(READ_BYTES / pieceLength)) * pieceLength
  const pieces = new Uint8Array(pieceCount * 20)
  return {
    pieceCount,
    readBytes: Math.min(readBytes, pieceCount * pieceLength),
    digests: [{ algorithm: 'sha1', sliceLength: pieceLength }],
    reads: () => sequentialReads(content.files.map((file) => file.length), pieceLength, readBytes),
    record: (read, [sha1]) => pieces.set(sha1!, read.firstPiece * 20),
    infoFields: () => ({
      pieces,
      ...(content.single
        ? { length: content.bytes }
        : { files: content.files.map((file) => ({ length: file.length, path: [...file.components] })) })
    })
  }
}
