import { HASH_BYTES, MERKLE_BLOCK, nextPowerOfTwo, zeroRoot } from './merkle.js'
import { createHash } from 'node:crypto'
import type { V2Meta } from './metainfo-v2.js'

/** BEP 52's hash request, hashes and hash reject: message ids 21, 22, 23. */
export const HASH_REQUEST = 21
export const HASHES = 22
export const HASH_REJECT = 23
const HEADER_BYTES = 1 + HASH_BYTES + 16
/** The most hashes one request may ask for (libtorrent's limit; a piece layer is fetched in chunks of this). */
const MAX_COUNT = 8192

export interface HashRequest {
  readonly piecesRoot: Buffer
  /** The layer, counted up from the 16 KiB blocks (0). */
  readonly base: number
  readonly index: number
  readonly count: number
  readonly proofLayers: number
}

/** A hash request's payload (the message id first), or undefined when it is malformed. */
export function parseHashRequest (message: Uint8Array): HashRequest | undefined {
  if (message.length !== HEADER_BYTES || message[0] !== HASH_REQUEST) return undefined
  const view = Buffer.from(message.buffer, message.byteOffset, message.length)
  return {
    piecesRoot: Buffer.from(view.subarray(1, 1 + HASH_BYTES)),
    base: view.readUInt32BE(33),
    index: view.readUInt32BE(37),
    count: view.readUInt32BE(41),
    proofLayers: view.readUInt32BE(45)
  }
}

/** A whole message (length prefix included): hashes (22) with `hashes`, or a reject (23) without. */
export function encodeHashMessage (request: HashRequest, hashes?: readonly Buffer[]): Buffer {
  return encode(hashes ? HASHES : HASH_REJECT, request, hashes ? Buffer.concat(hashes) : Buffer.alloc(0))
}

export function encodeHashRequest (request: HashRequest): Buffer {
  return encode(HASH_REQUEST, request, Buffer.alloc(0))
}

function encode (id: number, request: HashRequest, body: Buffer): Buffer {
  const message = Buffer.alloc(4 + HEADER_BYTES + body.length)
  message.writeUInt32BE(HEADER_BYTES + body.length, 0)
  message[4] = id
  request.piecesRoot.copy(message, 5)
  message.writeUInt32BE(request.base, 37)
  message.writeUInt32BE(request.index, 41)
  message.writeUInt32BE(request.count, 45)
  message.writeUInt32BE(request.proofLayers, 49)
  body.copy(message, 53)
  return message
}

function sha256 (left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(left).update(right).digest()
}

/**
 * A file's merkle tree from its piece layer up, as we keep it: layers[0] is the piece layer padded
 * to a power of two with the roots of zero pieces, the last layer is the pieces root.
 */
function treeAbovePieces (layer: Buffer, pieceLength: number): Buffer[][] {
  const width = nextPowerOfTwo(layer.length / HASH_BYTES)
  let pad = zeroRoot(pieceLength / MERKLE_BLOCK)
  const first: Buffer[] = []
  for (let i = 0; i < width; i++) first.push(i * HASH_BYTES < layer.length ? layer.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES) : pad)
  const layers = [first]
  while (layers.at(-1)!.length > 1) {
    const below = layers.at(-1)!
    const above: Buffer[] = []
    for (let i = 0; i < below.length; i += 2) above.push(sha256(below[i]!, below[i + 1]!))
    layers.push(above)
    pad = sha256(pad, pad)
  }
  return layers
}

/** Trees built once per file and kept while the torrent's metadata lives: a peer's requests cost no hashing. */
const trees = new WeakMap<V2Meta, Map<number, Buffer[][]>>()

function treeOf (v2: V2Meta, firstPiece: number, pieceCount: number, pieceLength: number): Buffer[][] {
  let files = trees.get(v2)
  if (!files) trees.set(v2, files = new Map())
  let tree = files.get(firstPiece)
  if (!tree) files.set(firstPiece, tree = treeAbovePieces(v2.pieceRoots.subarray(firstPiece * HASH_BYTES, (firstPiece + pieceCount) * HASH_BYTES), pieceLength))
  return tree
}

/**
 * What we answer a peer's hash request with, from the piece layers we hold: the `count` hashes of
 * layer `base` from `index`, then the uncles that prove them up to `proofLayers` layers above the
 * base, as libtorrent's merkle_tree::get_hashes gives them (uncles start at the subtree's root).
 * Undefined (a reject) for what we do not hold: the block layer, a file of one piece, a bad range.
 */
export function answerHashRequest (v2: V2Meta, pieceLength: number, request: HashRequest): Buffer[] | undefined {
  const { base, index, count, proofLayers } = request
  const file = v2.files.find((entry) => entry.piecesRoot?.equals(request.piecesRoot))
  if (!file || file.pieceCount < 2) return undefined
  const pieceHeight = Math.log2(pieceLength / MERKLE_BLOCK)
  if (base < pieceHeight || count < 1 || count > MAX_COUNT || (count & (count - 1)) !== 0 || index % count !== 0) return undefined
  const layers = treeOf(v2, file.firstPiece, file.pieceCount, pieceLength)
  const level = base - pieceHeight
  const row = layers[level]
  // The uncles stop below the root, which has no sibling.
  if (!row || index + count > row.length || level + proofLayers > layers.length - 2) return undefined
  const out = row.slice(index, index + count)
  const subtreeHeight = Math.log2(count)
  for (let i = Math.max(0, subtreeHeight - 1); i < proofLayers; i++) {
    const position = index >> (i + 1)
    out.push(layers[level + i + 1]![position ^ 1]!)
  }
  return out
}

/**
 * Our answer to a request for one piece's block hashes (base layer 0): `blockHashes` (the piece's
 * data blocks, from its verified data) padded with zero hashes to the subtree's leaves, then the
 * uncles above the piece, from its file's piece layer tree, as get_hashes lays them out.
 */
export function answerBlockRequest (v2: V2Meta, pieceLength: number, request: HashRequest, piece: number, blockHashes: Buffer): Buffer[] | undefined {
  const file = v2.files.find((entry) => entry.piecesRoot?.equals(request.piecesRoot))
  const { count, proofLayers } = request
  if (!file || blockHashes.length > count * HASH_BYTES) return undefined
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) out.push(i * HASH_BYTES < blockHashes.length ? blockHashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES) : Buffer.alloc(HASH_BYTES))
  const height = Math.log2(count)
  if (proofLayers < height) return out
  // A file of one piece has no tree above it: its piece's hash is the pieces root.
  if (file.pieceCount < 2) return undefined
  const layers = treeOf(v2, file.firstPiece, file.pieceCount, pieceLength)
  const position = piece - file.firstPiece
  // Uncle i sits i layers above the piece layer, below the root (which has no sibling).
  for (let level = 0; level <= proofLayers - height; level++) {
    const uncle = level < layers.length - 1 ? layers[level]![(position >> level) ^ 1] : undefined
    if (!uncle) return undefined
    out.push(uncle)
  }
  return out
}
