import type { BlockCharge, Contribution } from './market-port.js'

export const BLOCK_SIZE = 16 * 1024

/** A piece being downloaded: its buffer and what is known of each of its 16 KiB blocks. */
export interface PieceProgress {
  readonly index: number
  readonly length: number
  readonly blockCount: number
  readonly buffer: Buffer
  /** Outstanding requests per block (2 while endgame doubles a block). */
  readonly requested: Uint8Array
  readonly received: Uint8Array
  /** Address of the peer that sent each block: the piece's hash decides whom to pay or blame. */
  readonly senders: Array<string | undefined>
  /** What each block cost when it arrived (the sender's wallet and rate); undefined = free. */
  readonly charges: Array<BlockCharge | undefined>
  receivedCount: number
  /** No block before this index is unrequested and unreceived. */
  cursor: number
  verifying: boolean
}

export function newPieceProgress (index: number, length: number, buffer: Buffer): PieceProgress {
  const blockCount = Math.ceil(length / BLOCK_SIZE)
  return {
    index,
    length,
    blockCount,
    buffer,
    requested: new Uint8Array(blockCount),
    received: new Uint8Array(blockCount),
    senders: new Array<string | undefined>(blockCount),
    charges: new Array<BlockCharge | undefined>(blockCount),
    receivedCount: 0,
    cursor: 0,
    verifying: false
  }
}

export function blockLength (piece: PieceProgress, block: number): number {
  return Math.min(BLOCK_SIZE, piece.length - block * BLOCK_SIZE)
}

/** The first block nobody has been asked for and nobody has sent, or -1. */
export function nextUnrequested (piece: PieceProgress): number {
  while (piece.cursor < piece.blockCount && (piece.requested[piece.cursor] || piece.received[piece.cursor])) piece.cursor++
  return piece.cursor < piece.blockCount ? piece.cursor : -1
}

/** Forgets every block of a piece, so it is fetched again from scratch. */
export function clearPiece (piece: PieceProgress): void {
  piece.received.fill(0)
  piece.requested.fill(0)
  piece.senders.fill(undefined)
  piece.charges.fill(undefined)
  piece.receivedCount = 0
  piece.cursor = 0
  piece.verifying = false
}

/** Forgets the blocks `address` sent (it was banned): they would only fail the piece later. */
export function forgetBlocksFrom (piece: PieceProgress, address: string): void {
  for (let block = 0; block < piece.blockCount; block++) {
    if (piece.senders[block] !== address) continue
    piece.senders[block] = undefined
    piece.charges[block] = undefined
    piece.received[block] = 0
    piece.receivedCount--
    if (block < piece.cursor) piece.cursor = block
  }
}

export function sendersOf (piece: PieceProgress): string[] {
  return [...new Set(piece.senders.filter((sender): sender is string => sender !== undefined))]
}

/** Which wallet is owed for which bytes of a verified piece, at which rate: what the market pays for. */
export function contributionsOf (piece: PieceProgress): Contribution[] {
  // A quote is one object for as long as it holds, so blocks bought under it group by identity.
  const totals = new Map<BlockCharge, number>()
  for (let block = 0; block < piece.blockCount; block++) {
    const charge = piece.charges[block]
    if (!charge) continue
    totals.set(charge, (totals.get(charge) ?? 0) + blockLength(piece, block))
  }
  return [...totals].map(([charge, bytes]) => ({ charge, bytes }))
}
