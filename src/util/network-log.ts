import type { Logger } from 'winston'

export interface NetworkLogLimits {
  /** Lines one source (a peer's address) may write in a window. */
  readonly perSource: number
  /** Lines all sources together may write in a window. */
  readonly total: number
  readonly windowMs: number
}

export const DEFAULT_NETWORK_LOG_LIMITS: NetworkLogLimits = { perSource: 5, total: 200, windowMs: 60_000 }

type Level = 'warn' | 'info' | 'debug'

/**
 * Log lines that a peer can cause, rate-limited per peer and in total: a peer that misbehaves in
 * a loop writes a few lines a minute, not the disk full. What was dropped is said in one summary
 * line per window.
 */
export class NetworkLog {
  private windowStart = 0
  private total = 0
  private dropped = 0
  private readonly bySource = new Map<string, number>()
  private readonly byMessage = new Map<string, number>()

  constructor (private readonly log: Logger, private readonly limits: NetworkLogLimits = DEFAULT_NETWORK_LOG_LIMITS, private readonly now: () => number = Date.now) {}

  warn (source: string, message: string, fields: Record<string, unknown> = {}): void {
    this.write('warn', source, message, fields)
  }

  info (source: string, message: string, fields: Record<string, unknown> = {}): void {
    this.write('info', source, message, fields)
  }

  debug (source: string, message: string, fields: Record<string, unknown> = {}): void {
    // Debug lines are off unless asked for; when asked for, they are limited like the rest.
    if (!this.log.isDebugEnabled()) return
    this.write('debug', source, message, fields)
  }

  /**
   * Warnings and notes peers caused this run, by message, including those the rate limit kept out
   * of the log: for metrics. Messages are fixed strings (details go in the fields), so this stays small.
   */
  counts (): ReadonlyMap<string, number> {
    return this.byMessage
  }

  private write (level: Level, source: string, message: string, fields: Record<string, unknown>): void {
    if (level !== 'debug') this.byMessage.set(message, (this.byMessage.get(message) ?? 0) + 1)
    const now = this.now()
    if (now - this.windowStart >= this.limits.windowMs) this.rollOver(now)
    const fromSource = (this.bySource.get(source) ?? 0) + 1
    this.bySource.set(source, fromSource)
    if (fromSource > this.limits.perSource || this.total >= this.limits.total) {
      // The summary comes at the window's end even if the peer falls silent.
      if (this.dropped++ === 0) setTimeout(() => this.rollOver(this.now()), Math.max(0, this.windowStart + this.limits.windowMs - now)).unref()
      return
    }
    this.total++
    this.log[level](message, { peer: source, ...fields })
  }

  private rollOver (now: number): void {
    if (this.dropped > 0) {
      this.log.warn('log lines caused by peers were dropped (rate limit)', { dropped: this.dropped, sources: this.bySource.size, windowSeconds: this.limits.windowMs / 1000 })
    }
    this.windowStart = now
    this.total = 0
    this.dropped = 0
    this.bySource.clear()
  }
}
