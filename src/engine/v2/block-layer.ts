import type { HashRequest } from './hash-messages.js'
import { HASH_BYTES, MERKLE_BLOCK, merkleRoot } from './merkle.js'
import type { V2File, V2Meta } from './metainfo-v2.js'

/**
 * A piece's block layer (BEP 52's base layer 0): the SHA-256 of each of its 16 KiB blocks. When a
 * piece fails its merkle check, the block hashes, proven against the piece's hash we already
 * trust, say which of its blocks are bad, so only those are fetched again and only their senders
 * blamed (as libtorrent's hash_picker::verify_block_hashes does).
 */

export function fileOfPiece (v2: V2Meta, index: number): V2File | undefined {
  return v2.files.find((file) => file.piecesRoot !== undefined && index >= file.firstPiece && index < file.firstPiece + file.pieceCount)
}

/**
 * The hash request for one piece's block hashes: its subtree's leaves, from the file's first block
 * of the piece. No uncles (proof layers one below the subtree's height): the piece's hash is
 * already proven, so the leaves need only hash up to it. Undefined for a piece of one block,
 * whose only block is the bad one.
 */
export function blockLayerRequest (v2: V2Meta, pieceLength: number, index: number): HashRequest | undefined {
  const file = fileOfPiece(v2, index)
  const count = v2.pieceLeaves[index] ?? 0
  if (!file?.piecesRoot || count < 2) return undefined
  const blocksPerPiece = pieceLength / MERKLE_BLOCK
  return { piecesRoot: file.piecesRoot, base: 0, index: (index - file.firstPiece) * blocksPerPiece, count, proofLayers: Math.log2(count) - 1 }
}

/** The block hashes of a hashes message's payload, when they hash up to the piece's trusted root (any uncles after them are not needed). */
export function provenBlockHashes (request: HashRequest, payload: Buffer, pieceRoot: Uint8Array): Buffer | undefined {
  const bytes = request.count * HASH_BYTES
  if (payload.length < bytes || payload.length % HASH_BYTES !== 0) return undefined
  const hashes = payload.subarray(0, bytes)
  return merkleRoot(hashes, request.count).equals(pieceRoot) ? Buffer.from(hashes) : undefined
}

/** The blocks, of the first `blocks`, whose hash in `actual` is not the one in `expected` (32 bytes each, end to end). */
export function mismatchedBlocks (actual: Uint8Array, expected: Uint8Array, blocks: number): number[] {
  const bad: number[] = []
  for (let block = 0; block < blocks; block++) {
    const at = block * HASH_BYTES
    const mine = actual.subarray(at, at + HASH_BYTES)
    if (mine.length < HASH_BYTES || Buffer.compare(mine, expected.subarray(at, at + HASH_BYTES)) !== 0) bad.push(block)
  }
  return bad
}

/**
 * Which piece a peer's base-layer request is for: we answer one piece's block hashes at a time
 * (what libtorrent asks for after a failed piece), so the range must be exactly one piece's leaves.
 */
export function pieceOfBlockRequest (v2: V2Meta, pieceLength: number, request: HashRequest): number | undefined {
  if (request.base !== 0) return undefined
  const file = v2.files.find((entry) => entry.piecesRoot?.equals(request.piecesRoot))
  if (!file) return undefined
  const inFile = request.index / (pieceLength / MERKLE_BLOCK)
  if (!Number.isInteger(inFile) || inFile >= file.pieceCount) return undefined
  const piece = file.firstPiece + inFile
  return request.count === v2.pieceLeaves[piece] ? piece : undefined
}
