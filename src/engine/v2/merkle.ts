import { createHash } from 'node:crypto'

/**
 * BEP 52's merkle trees, pure: SHA-256 over 16 KiB blocks (a file's last block as long as it
 * is), leaves padded with zero hashes up to a power of two, each parent the SHA-256 of its two
 * children. A piece's hash (its `piece layers` entry) is the root of the subtree over its blocks;
 * a file's `pieces root` is the root over all its blocks, which is the root over its piece layer
 * padded with the roots of all-zero pieces.
 */
export const MERKLE_BLOCK = 16 * 1024
export const HASH_BYTES = 32
const ZERO: Buffer = Buffer.alloc(HASH_BYTES)

export function nextPowerOfTwo (count: number): number {
  let power = 1
  while (power < count) power *= 2
  return power
}

function sha256 (...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest()
}

/** The SHA-256 of each 16 KiB block of `data`, end to end. */
export function blockHashes (data: Uint8Array): Buffer {
  const count = Math.ceil(data.length / MERKLE_BLOCK)
  const out = Buffer.alloc(count * HASH_BYTES)
  for (let block = 0; block < count; block++) {
    const from = block * MERKLE_BLOCK
    sha256(data.subarray(from, Math.min(data.length, from + MERKLE_BLOCK))).copy(out, block * HASH_BYTES)
  }
  return out
}

/** The root over `leafCount` leaves (a power of two) whose first ones are `hashes` (32 bytes each) and the rest `pad`. */
export function merkleRoot (hashes: Uint8Array, leafCount: number, pad: Uint8Array = ZERO): Buffer {
  let level: Uint8Array[] = []
  for (let at = 0; at < hashes.length; at += HASH_BYTES) level.push(hashes.subarray(at, at + HASH_BYTES))
  if (level.length > leafCount) throw new Error(`${level.length} hashes do not fit in ${leafCount} leaves`)
  let padding: Uint8Array = pad
  for (let width = leafCount; width > 1; width /= 2) {
    const parents: Uint8Array[] = []
    for (let i = 0; i < width; i += 2) {
      const left = level[i]
      if (left === undefined) break
      parents.push(sha256(left, level[i + 1] ?? padding))
    }
    level = parents
    padding = sha256(padding, padding)
  }
  return Buffer.from(level[0] ?? padding)
}

/** The root of a subtree of `leafCount` zero leaves: what pads a piece layer. */
export function zeroRoot (leafCount: number): Buffer {
  let pad: Buffer = ZERO
  for (let width = leafCount; width > 1; width /= 2) pad = sha256(pad, pad)
  return pad
}

/** The hash of one piece from its data (its file's bytes in it): a subtree of `leafCount` leaves. */
export function pieceRoot (data: Uint8Array, leafCount: number): Buffer {
  return merkleRoot(blockHashes(data), leafCount)
}

/** A file's pieces root from its piece layer (files longer than one piece). */
export function piecesRootOfLayer (layer: Uint8Array, pieceLength: number): Buffer {
  const blocksPerPiece = pieceLength / MERKLE_BLOCK
  return merkleRoot(layer, nextPowerOfTwo(layer.length / HASH_BYTES), zeroRoot(blocksPerPiece))
}

/** How many leaves a piece's subtree has: a whole piece's blocks, or for a file of one piece at most, its blocks to a power of two. */
export function pieceLeaves (fileLength: number, pieceLength: number): number {
  if (fileLength > pieceLength) return pieceLength / MERKLE_BLOCK
  return nextPowerOfTwo(Math.ceil(fileLength / MERKLE_BLOCK))
}
