export interface PiecePickInput {
  readonly pieceCount: number
  /** How many connected peers have each piece. */
  readonly availability: Uint16Array
  /** The piece may be requested from this peer: we lack it, the peer has it, nobody is on it yet. */
  readonly wanted: (index: number) => boolean
  /** Uniform in [0, 1). */
  readonly random: () => number
}

/**
 * Rarest first: among wanted pieces, one with the fewest copies in the swarm; ties are broken at
 * random (by starting the scan at a random place) so peers spread over different pieces.
 * Returns -1 when nothing is wanted.
 */
export function pickRarestPiece ({ pieceCount, availability, wanted, random }: PiecePickInput): number {
  if (pieceCount === 0) return -1
  const start = Math.floor(random() * pieceCount)
  let best = -1
  let bestAvailability = Infinity
  for (let step = 0; step < pieceCount; step++) {
    const index = (start + step) % pieceCount
    const copies = availability[index]!
    if (copies >= bestAvailability || !wanted(index)) continue
    best = index
    bestAvailability = copies
    if (copies <= 1) break
  }
  return best
}
