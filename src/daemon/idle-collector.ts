import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { releasedMemory } from '../util/released-memory.js'

/**
 * V8 collects garbage when the program allocates, so a daemon that falls quiet after a burst (a
 * swarm moving on, an attack) keeps the burst's garbage (closed sockets' native halves, evicted
 * piece buffers) for as long as it stays quiet, which for a seeder may be days. After a busy
 * stretch, once a whole interval has passed nearly idle, one full collection gives it back.
 */

/** An interval whose event loop was busier than this counts as activity. */
export const BUSY_UTILIZATION = 0.02
/** An interval at most this busy is idle. */
export const IDLE_UTILIZATION = 0.01
/**
 * Growth of the process's memory since the last collection, and large buffers let go since then
 * (see util/released-memory), that count as activity too: a short burst may not show in a whole
 * interval's utilization.
 */
export const GROWTH_BYTES = 8 * 1024 * 1024
export const RELEASED_BYTES = 1024 * 1024

export interface CollectorState {
  /** Something happened since the last collection. */
  readonly busySinceCollection: boolean
  /** The process's resident memory right after the last collection (or at start), bytes. */
  readonly rssAfterCollection: number
  /** releasedMemory() at the last collection. */
  readonly releasedAtCollection: number
}

/** What the collector reads at the end of an interval. */
export interface IntervalReading {
  /** How busy the event loop was, 0 to 1. */
  readonly utilization: number
  readonly rss: number
  readonly released: number
}

/** Whether to collect now, after an interval that ended with `reading`. */
export function nextCollection (state: CollectorState, reading: IntervalReading): { collect: boolean, state: CollectorState } {
  const busy = state.busySinceCollection || reading.utilization > BUSY_UTILIZATION ||
    reading.rss - state.rssAfterCollection > GROWTH_BYTES || reading.released - state.releasedAtCollection >= RELEASED_BYTES
  if (busy && reading.utilization <= IDLE_UTILIZATION) return { collect: true, state: { ...state, busySinceCollection: false } }
  return { collect: false, state: { ...state, busySinceCollection: busy } }
}

export interface IdleCollector {
  stop (): void
}

/**
 * Runs `collect` (the `gc` that `--expose-gc` puts on globalThis, which the bin's `#!` line sets)
 * when the daemon turns idle after work; without it, nothing happens.
 */
export function collectWhenIdle (intervalMs: number, collect: (() => void) | undefined = exposedGc()): IdleCollector {
  if (!collect) return { stop: () => {} }
  let state: CollectorState = { busySinceCollection: false, rssAfterCollection: process.memoryUsage.rss(), releasedAtCollection: releasedMemory() }
  let previous: EventLoopUtilization = performance.eventLoopUtilization()
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization()
    const reading = { utilization: performance.eventLoopUtilization(now, previous).utilization, rss: process.memoryUsage.rss(), released: releasedMemory() }
    previous = now
    const decision = nextCollection(state, reading)
    state = decision.state
    if (decision.collect) {
      collect()
      state = { ...state, rssAfterCollection: process.memoryUsage.rss(), releasedAtCollection: reading.released }
      // The collection's own work must not count as the next interval's activity.
      previous = performance.eventLoopUtilization()
    }
  }, intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}

type ExposedGc = (options: { type: 'major', execution: 'sync', flavor: 'last-resort' }) => void

/**
 * The collection V8 runs before it gives up on memory: a plain `gc()` empties the heap but keeps
 * its pages, so the process's memory would not go down.
 */
function exposedGc (): (() => void) | undefined {
  const gc: unknown = (globalThis as { gc?: unknown }).gc
  return typeof gc === 'function' ? () => { (gc as ExposedGc)({ type: 'major', execution: 'sync', flavor: 'last-resort' }) } : undefined
}
