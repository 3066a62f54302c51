import { READ_BYTES, type ContentRead, type FormatMaker, type ReadSegment } from '../creation-format.js'
import type { SeedContent } from '../seed-path.js'
import { HASH_BYTES, MERKLE_BLOCK, merkleRoot, pieceLeaves, piecesRootOfLayer } from './merkle.js'

/** Where one source file's pieces are in a v2 torrent. */
interface FilePieces {
  readonly firstPiece: number
  readonly pieceCount: number
}

/**
 * BEP 52's metainfo: each file's pieces are its own (the reads stop at each file's end), SHA-256
 * by 16 KiB on the hash threads, the piece roots and pieces roots from those leaves here. A hybrid
 * also takes SHA-1 of each piece over the same reads, a file's last piece padded with zeros as the
 * BEP 47 pad file after it says (libtorrent pads every file of a folder, the last too; a single
 * file is not padded), so both halves describe one byte stream.
 */
function v2Maker (hybrid: boolean): FormatMaker {
  return (content, pieceLength) => {
    const blocksPerPiece = pieceLength / MERKLE_BLOCK
    const layout = layoutOf(content, pieceLength)
    const pieceCount = layout.reduce((sum, file) => sum + file.pieceCount, 0)
    const readBytes = Math.max(1, Math.floor(READ_BYTES / pieceLength)) * pieceLength
    const longest = Math.max(...layout.map((file) => file.pieceCount)) * pieceLength
    const roots = Buffer.alloc(pieceCount * HASH_BYTES)
    const pieces = new Uint8Array(hybrid ? pieceCount * 20 : 0)
    const padded = hybrid && !content.single
    return {
      pieceCount,
      readBytes: Math.min(readBytes, longest),
      digests: [{ algorithm: 'sha256', sliceLength: MERKLE_BLOCK, dataOnly: true }, ...(hybrid ? [{ algorithm: 'sha1' as const, sliceLength: pieceLength }] : [])],
      reads: () => fileReads(content, layout, pieceLength, readBytes, padded),
      record: (read, [blocks, sha1]) => {
        const fileLength = content.files[read.segments[0]!.file]!.length
        const leaves = pieceLeaves(fileLength, pieceLength)
        const perPiece = blocksPerPiece * HASH_BYTES
        for (let at = 0, piece = read.firstPiece; at < blocks!.length; at += perPiece, piece++) {
          merkleRoot(blocks!.subarray(at, at + perPiece), leaves).copy(roots, piece * HASH_BYTES)
        }
        if (sha1) pieces.set(sha1, read.firstPiece * 20)
      },
      infoFields: () => ({
        'file tree': fileTree(content, layout, roots, pieceLength),
        'meta version': 2,
        ...(hybrid ? { pieces, ...v1Files(content, pieceLength) } : {})
      }),
      torrentTail: () => pieceLayers(layout, roots, pieceLength)
    }
  }
}

export const v2Format = v2Maker(false)
export const hybridFormat = v2Maker(true)

function layoutOf (content: SeedContent, pieceLength: number): FilePieces[] {
  let firstPiece = 0
  return content.files.map((file) => {
    const pieceCount = Math.ceil(file.length / pieceLength)
    const entry = { firstPiece, pieceCount }
    firstPiece += pieceCount
    return entry
  })
}

function * fileReads (content: SeedContent, layout: readonly FilePieces[], pieceLength: number, readBytes: number, padded: boolean): Generator<ContentRead> {
  for (const [file, { firstPiece }] of layout.entries()) {
    const length = content.files[file]!.length
    for (let position = 0; position < length; position += readBytes) {
      const dataLength = Math.min(readBytes, length - position)
      const segments: ReadSegment[] = [{ file, position, length: dataLength }]
      const readLength = padded ? Math.ceil(dataLength / pieceLength) * pieceLength : dataLength
      yield { firstPiece: firstPiece + position / pieceLength, length: readLength, segments, dataLength }
    }
  }
}

function fileRoot (roots: Buffer, { firstPiece, pieceCount }: FilePieces, pieceLength: number): Buffer {
  const layer = roots.subarray(firstPiece * HASH_BYTES, (firstPiece + pieceCount) * HASH_BYTES)
  return pieceCount === 1 ? Buffer.from(layer) : piecesRootOfLayer(layer, pieceLength)
}

type Tree = { [name: string]: Tree | { length: number, 'pieces root'?: Buffer } }

function fileTree (content: SeedContent, layout: readonly FilePieces[], roots: Buffer, pieceLength: number): Tree {
  const tree: Tree = {}
  for (const [i, file] of content.files.entries()) {
    const components = content.single ? [content.name] : file.components
    let node = tree
    for (const name of components.slice(0, -1)) node = (node[name] ??= {}) as Tree
    const leaf = { length: file.length, ...(file.length > 0 ? { 'pieces root': fileRoot(roots, layout[i]!, pieceLength) } : {}) }
    node[components.at(-1)!] = { '': leaf }
  }
  return tree
}

/** A hybrid's v1 list: the same files, each nonempty one followed by a pad file up to the next piece (BEP 47), as libtorrent makes them. */
function v1Files (content: SeedContent, pieceLength: number): Record<string, unknown> {
  if (content.single) return { length: content.bytes }
  const files: Array<Record<string, unknown>> = []
  for (const file of content.files) {
    files.push({ length: file.length, path: [...file.components] })
    const pad = (pieceLength - (file.length % pieceLength)) % pieceLength
    if (file.length > 0 && pad > 0) files.push({ attr: 'p', length: pad, path: ['.pad', String(pad)] })
  }
  return { files }
}

/** `piece layers`, bencoded: each file of more than one piece, by pieces root, keys in byte order (as libtorrent writes it, empty too). */
function pieceLayers (layout: readonly FilePieces[], roots: Buffer, pieceLength: number): Buffer {
  const layers = new Map<string, Buffer>()
  for (const file of layout) {
    if (file.pieceCount < 2) continue
    const layer = roots.subarray(file.firstPiece * HASH_BYTES, (file.firstPiece + file.pieceCount) * HASH_BYTES)
    layers.set(fileRoot(roots, file, pieceLength).toString('hex'), layer)
  }
  const parts: Uint8Array[] = [Buffer.from('12:piece layersd')]
  for (const key of [...layers.keys()].sort()) {
    const layer = layers.get(key)!
    parts.push(Buffer.from(`${HASH_BYTES}:`), Buffer.from(key, 'hex'), Buffer.from(`${layer.length}:`), layer)
  }
  parts.push(Buffer.from('e'))
  return Buffer.concat(parts)
}
