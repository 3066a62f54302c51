import type { PieceHasher } from './hasher.js'
import { pieceDataLength, type TorrentMeta } from './metainfo.js'

/**
 * Checks one piece on the hash threads against what the torrent vouches for: its v2 merkle root
 * (BEP 52: the SHA-256 subtree over its 16 KiB blocks, so a hybrid is checked by its stronger
 * half) or its v1 SHA-1. `data` is the whole piece as stored; a v2 piece's file ends inside it.
 */
export function checkPiece (hasher: PieceHasher, meta: TorrentMeta, index: number, data: Uint8Array): Promise<boolean> {
  const v2 = meta.v2
  if (!v2) return hasher.verify(data, meta.pieceHashes.subarray(index * 20, index * 20 + 20))
  const root = v2.pieceRoots.subarray(index * 32, index * 32 + 32)
  return hasher.verify(data.subarray(0, pieceDataLength(meta, index)), root, 'merkle', v2.pieceLeaves[index])
}
