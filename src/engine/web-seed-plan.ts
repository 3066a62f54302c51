import type { FetchFailureKind } from './web-seed-http.js'

export interface WebSeedPickInput {
  readonly pieceCount: number
  /** We lack the piece and nobody (peer or web seed) is fetching it. */
  readonly free: (index: number) => boolean
  /** How many connected peers have the piece (seeds included). */
  readonly copies: (index: number) => number
  /** The file priorities' rank of the piece (higher first; file selection), when there is one. */
  readonly rank?: (index: number) => number
  /** The most consecutive pieces to take. */
  readonly maxPieces: number
}

/**
 * What a web seed fetches next: a run of consecutive free pieces (one range request per file it
 * covers), starting at the free piece of the highest priority with the fewest copies among peers,
 * so the web seed fills what the swarm cannot give before it takes what peers could. Returns the
 * run's first piece and length, or undefined when nothing is free.
 */
export function pickWebSeedRun ({ pieceCount, free, copies, rank = () => 1, maxPieces }: WebSeedPickInput): { first: number; count: number } | undefined {
  let first = -1
  let fewest = Infinity
  let best = -Infinity
  for (let index = 0; index < pieceCount; index++) {
    if (!free(index)) continue
    const level = rank(index)
    const count = copies(index)
    if (level > best || (level === best && count < fewest)) {
      first = index
      fewest = count
      best = level
    }
  }
  if (first < 0) return undefined
  let count = 1
  const next = (): number => first + count
  while (count < maxPieces && next() < pieceCount && free(next()) && rank(next()) === best && copies(next()) <= fewest) count++
  return { first, count }
}

/** A web seed's health: consecutive failures, when it may be asked again, and whether it is given up. */
export interface WebSeedHealth {
  readonly failures: number
  /** Hard failures in a row (4xx, wrong answers): the web seed is given up after a few. */
  readonly hardFailures: number
  /** ms since the epoch; 0 = now. */
  readonly retryAt: number
  /** Why it is no longer used, if it is not. */
  readonly gaveUp: string | null
}

export const HEALTHY: WebSeedHealth = { failures: 0, hardFailures: 0, retryAt: 0, gaveUp: null }

const BASE_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 5 * 60_000
/** A web seed answering 404 (or nonsense) this many times in a row is given up. */
export const HARD_FAILURES_TO_GIVE_UP = 3

export interface Failure {
  readonly kind: FetchFailureKind
  readonly message: string
  readonly status?: number | undefined
  readonly retryAfterMs?: number | undefined
}

/**
 * After a failed request: exponential back-off from a second to five minutes; a Retry-After (503,
 * 429) is honoured when longer; an address refused is given up at once; a client error (4xx but
 * 408 and 429) or a wrong answer counts as hard, and a few in a row give the web seed up.
 */
export function afterFailure (health: WebSeedHealth, failure: Failure, now: number): WebSeedHealth {
  if (failure.kind === 'refused') return { ...health, failures: health.failures + 1, gaveUp: failure.message }
  const status = failure.status ?? 0
  const hard = failure.kind === 'protocol' || (failure.kind === 'http' && status >= 400 && status < 500 && status !== 408 && status !== 429)
  const failures = health.failures + 1
  const hardFailures = hard ? health.hardFailures + 1 : 0
  const backoff = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.min(failures - 1, 20))
  const retryAt = now + Math.max(backoff, failure.retryAfterMs ?? 0)
  const gaveUp = hardFailures >= HARD_FAILURES_TO_GIVE_UP ? `gave up after ${hardFailures} failures in a row: ${failure.message}` : null
  return { failures, hardFailures, retryAt, gaveUp }
}

/** A request succeeded: the back-off starts over. */
export function afterSuccess (health: WebSeedHealth): WebSeedHealth {
  return health.gaveUp ? health : HEALTHY
}
