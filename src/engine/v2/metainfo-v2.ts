import { createHash } from 'node:crypto'
import { InvalidTorrentError } from '../../util/errors.js'
import { decodeComponent } from '../torrent-paths.js'
import type { BDict, BValue } from './bdecode.js'
import { HASH_BYTES, MERKLE_BLOCK, pieceLeaves, piecesRootOfLayer } from './merkle.js'

/** One file of a v2 torrent: where its pieces are, and the root they hash to. */
export interface V2File {
  readonly path: string
  readonly length: number
  /** Offset in the torrent's byte stream: always at a piece boundary (BEP 52). */
  readonly offset: number
  /** Absent for an empty file. */
  readonly piecesRoot?: Buffer
  readonly firstPiece: number
  readonly pieceCount: number
}

/** What BEP 52 adds to a torrent: the SHA-256 info hash and, per piece, the merkle root to check it against. */
export interface V2Meta {
  /** SHA-256 of the info dictionary, 64 hex digits (its first 40 are the info hash in handshakes, the DHT and trackers). */
  readonly infoHash: string
  /** Whether the torrent also carries v1's `pieces` (and so lives in two swarms). */
  readonly hybrid: boolean
  readonly files: readonly V2File[]
  /** Per piece, the root of its subtree (32 bytes each): its piece layer entry, or its file's pieces root. */
  readonly pieceRoots: Buffer
  /** Per piece, how many of its bytes are its file's (a file's last piece ends with the file). */
  readonly pieceData: Uint32Array
  /** Per piece, the leaves of its subtree. */
  readonly pieceLeaves: Uint32Array
  /**
   * The stream's length: whole pieces, the last file padded too (as libtorrent has it, and as a
   * hybrid's v1 half pads it), so every piece is `piece length` long and peers ask for it so.
   */
  readonly length: number
}

export function isV2Info (info: BDict): boolean {
  return info.get('meta version') === 2
}

export function v2InfoHash (infoBytes: Uint8Array): string {
  return createHash('sha256').update(infoBytes).digest('hex')
}

/**
 * Reads the v2 half of an info dictionary: the file tree in its order, each file at a piece
 * boundary, and the piece layers checked against each file's pieces root (so a piece is later
 * checked against a root the info hash vouches for).
 */
export function parseV2 (info: BDict, infoBytes: Uint8Array, name: string, pieceLayers: BValue | undefined): V2Meta {
  const pieceLength = info.get('piece length')
  if (typeof pieceLength !== 'number' || pieceLength < MERKLE_BLOCK || (pieceLength & (pieceLength - 1)) !== 0) {
    throw new InvalidTorrentError('a v2 torrent\'s piece length must be a power of two of 16 KiB or more')
  }
  const tree = info.get('file tree')
  if (!(tree instanceof Map) || tree.size === 0) throw new InvalidTorrentError('info.file tree is missing or empty')
  const listed = walkTree(tree, [], 0)
  // A single-file torrent's tree is that one file at the top: its path is the torrent's name.
  const single = tree.size === 1 && listed.length === 1 && listed[0]!.components.length === 1
  const layers = pieceLayers instanceof Map ? pieceLayers : new Map<string, BValue>()
  const files: V2File[] = []
  const roots: Buffer[] = []
  const data: number[] = []
  const leaves: number[] = []
  const seen = new Set<string>()
  let offset = 0
  for (const { components, length, piecesRoot } of listed) {
    const path = single ? name : [name, ...components].join('/')
    if (seen.has(path)) throw new InvalidTorrentError(`duplicate file path "${path}"`)
    seen.add(path)
    const pieceCount = Math.ceil(length / pieceLength)
    files.push({ path, length, offset, ...(piecesRoot ? { piecesRoot } : {}), firstPiece: data.length, pieceCount })
    if (pieceCount > 0) {
      const layer = pieceCount === 1 ? piecesRoot! : layerOf(layers, piecesRoot!, pieceCount, pieceLength, path)
      for (let piece = 0; piece < pieceCount; piece++) {
        roots.push(layer.subarray(piece * HASH_BYTES, piece * HASH_BYTES + HASH_BYTES))
        data.push(Math.min(pieceLength, length - piece * pieceLength))
        leaves.push(pieceLeaves(length, pieceLength))
      }
    }
    offset += pieceCount * pieceLength
  }
  if (offset === 0) throw new InvalidTorrentError('torrent has no content')
  return {
    infoHash: v2InfoHash(infoBytes),
    hybrid: info.has('pieces'),
    files,
    pieceRoots: Buffer.concat(roots),
    pieceData: Uint32Array.from(data),
    pieceLeaves: Uint32Array.from(leaves),
    length: offset
  }
}

interface ListedFile { readonly components: string[], readonly length: number, readonly piecesRoot?: Buffer }

/** Files in tree order: a dictionary's keys are sorted (bencoding), so every client walks them alike. */
function walkTree (node: BDict, components: string[], depth: number): ListedFile[] {
  const out: ListedFile[] = []
  for (const [key, child] of node) {
    if (!(child instanceof Map)) throw new InvalidTorrentError('info.file tree holds something that is neither a file nor a folder')
    const name = decodeComponent(Buffer.from(key, 'latin1'), 'info.file tree')
    const leaf = child.get('')
    if (leaf instanceof Map) {
      const length = leaf.get('length')
      if (typeof length !== 'number' || length < 0) throw new InvalidTorrentError(`file "${name}" has no valid length`)
      const root = leaf.get('pieces root')
      if (length > 0 && !(root instanceof Buffer && root.length === HASH_BYTES)) throw new InvalidTorrentError(`file "${name}" has no valid pieces root`)
      out.push({ components: [...components, name], length, ...(length > 0 ? { piecesRoot: root as Buffer } : {}) })
    } else {
      if (depth >= 32) throw new InvalidTorrentError('info.file tree nests too deep')
      out.push(...walkTree(child, [...components, name], depth + 1))
    }
  }
  return out
}

function layerOf (layers: BDict, piecesRoot: Buffer, pieceCount: number, pieceLength: number, path: string): Buffer {
  const layer = layers.get(piecesRoot.toString('latin1'))
  if (!(layer instanceof Buffer)) throw new InvalidTorrentError(`the torrent has no piece layer for "${path}"`)
  if (layer.length !== pieceCount * HASH_BYTES) throw new InvalidTorrentError(`the piece layer of "${path}" has ${layer.length / HASH_BYTES} hashes for ${pieceCount} pieces`)
  if (!piecesRootOfLayer(layer, pieceLength).equals(piecesRoot)) throw new InvalidTorrentError(`the piece layer of "${path}" does not match its pieces root`)
  return layer
}

/** The files of a v2 info dictionary longer than one piece: their piece layers must come from somewhere (the .torrent, or peers). */
export function layersNeeded (info: BDict): Array<{ piecesRoot: Buffer, pieceCount: number }> {
  const pieceLength = info.get('piece length')
  const tree = info.get('file tree')
  if (typeof pieceLength !== 'number' || pieceLength < MERKLE_BLOCK || !(tree instanceof Map)) throw new InvalidTorrentError('a v2 info dictionary needs a piece length and a file tree')
  return walkTree(tree, [], 0)
    .filter((file) => file.length > pieceLength)
    .map((file) => ({ piecesRoot: file.piecesRoot!, pieceCount: Math.ceil(file.length / pieceLength) }))
}
