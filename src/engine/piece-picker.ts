export interface PiecePickInput {
  readonly pieceCount: number
  /** How many connected peers have each piece. */
  readonly availability: Uint16Array
  /** The piece may be requested from this peer: we lack it, the peer has it, nobody is on it yet. */
  readonly wanted: (index: number) => boolean
  /** Uniform in [0, 1). */
  readonly random: () => number
  /** How much each piece is wanted (its files' priority): 0 never, else the highest first; all 1 when absent. */
  readonly rank?: (index: number) => number
}

/** The highest rank a piece can have (a file of high priority). */
const MAX_RANK = 3

/**
 * Priority, then rarest first: among wanted pieces of the highest rank, one with the fewest copies
 * in the swarm; ties are broken at random (by starting the scan at a random place) so peers spread over different pieces.
 * Returns -1 when nothing is wanted.
 */
export function pickRarestPiece ({ pieceCount, availability, wanted, random, rank }: PiecePickInput): number {
  if (pieceCount === 0) return -1
  const start = Math.floor(random() * pieceCount)
  let best = -1
  let bestRank = 1
  let bestAvailability = Infinity
  const top = rank ? MAX_RANK : 1
  for (let step = 0; step < pieceCount; step++) {
    const index = (start + step) % pieceCount
    const copies = availability[index]!
    const level = rank ? rank(index) : 1
    if (level < bestRank || (level === bestRank && copies >= bestAvailability) || !wanted(index)) continue
    best = index
    bestRank = level
    bestAvailability = copies
    if (copies <= 1 && level >= top) break
  }
  return best
}
