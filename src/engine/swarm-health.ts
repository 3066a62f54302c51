/** Completions older than this leave the hourly count. */
const HOUR_MS = 3_600_000

/** How many copies of the torrent the swarm we see holds, as libtorrent's `distributed_copies`. */
export interface SwarmCopies {
  /**
   * Copies of the rarest piece, plus the share of pieces more common than it: 2.25 is two full
   * copies and a quarter of a third. Counted over the connected peers and ourselves.
   */
  readonly distributedCopies: number
  /** Holders of the rarest piece among the connected peers and ourselves (0: a piece nobody we see has). */
  readonly rarestPieceCopies: number
}

/**
 * `counts` are the connected non-seed peers holding each piece (PieceAvailability), `seeds` the
 * connected seeds, `weHave` our own pieces. Undefined without pieces to count (no metadata yet).
 */
export function swarmCopies (counts: ArrayLike<number>, seeds: number, weHave: (piece: number) => boolean): SwarmCopies | undefined {
  if (counts.length === 0) return undefined
  let rarest = Number.POSITIVE_INFINITY
  let atRarest = 0
  for (let i = 0; i < counts.length; i++) {
    const copies = counts[i]! + seeds + (weHave(i) ? 1 : 0)
    if (copies < rarest) {
      rarest = copies
      atRarest = 1
    } else if (copies === rarest) {
      atRarest++
    }
  }
  return { distributedCopies: rarest + (counts.length - atRarest) / counts.length, rarestPieceCopies: rarest }
}

export interface CompletionSummary {
  /** Full copies made while we watched, this run: peers that completed while connected, and our own download. */
  readonly completions: number
  readonly completionsLastHour: number
  /** When the first of them was made (ms since the epoch), or null. */
  readonly firstFullCopyAt: number | null
}

/**
 * Full copies made in the swarm while we watched: peers that had pieces missing when they connected
 * and then announced the last one, and our own download when it completes. Keeps only the last
 * hour's times (a few per completion), so it stays small in a launch with thousands.
 */
export class CompletionLog {
  private total = 0
  private firstAt: number | null = null
  private readonly recent: number[] = []

  constructor (private readonly now: () => number = Date.now) {}

  completed (): void {
    const at = this.now()
    this.total++
    this.firstAt ??= at
    this.recent.push(at)
    this.forgetOld(at)
  }

  /**
   * The completions so far, with our own download's (when it completed at `ownAt` in this run),
   * which the torrent keeps itself.
   */
  summary (ownAt: number | null): CompletionSummary {
    const now = this.now()
    this.forgetOld(now)
    const firsts = [this.firstAt, ownAt].filter((at): at is number => at !== null)
    return {
      completions: this.total + (ownAt === null ? 0 : 1),
      completionsLastHour: this.recent.length + (ownAt !== null && now - ownAt <= HOUR_MS ? 1 : 0),
      firstFullCopyAt: firsts.length > 0 ? Math.min(...firsts) : null
    }
  }

  private forgetOld (now: number): void {
    let old = 0
    while (old < this.recent.length && now - this.recent[old]! > HOUR_MS) old++
    if (old > 0) this.recent.splice(0, old)
  }
}
