import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'

/** Errors that reached the process's last-resort handlers: each is a bug, and a supervisor should know. */
export interface FaultCounts {
  readonly uncaughtExceptions: number
  readonly unhandledRejections: number
}

/** The first errors are logged with their stack; after that one line in so many, so a loop cannot fill the disk. */
const LOGGED_WITH_STACK = 10
const LOG_EVERY = 100

/**
 * Counts what escapes to `uncaughtException` and `unhandledRejection` (shown in `status`). Past
 * `limit` the process is in a state nothing vouches for: it exits non-zero so that a supervisor
 * (systemd's Restart=on-failure) starts it afresh from its durable state.
 */
export class FaultCounter {
  private counts = { uncaughtExceptions: 0, unhandledRejections: 0 }

  constructor (private readonly log: Logger, private readonly limit: number, private readonly exit: (code: number) => void) {}

  get counted (): FaultCounts {
    return { ...this.counts }
  }

  /** Installs the handlers on this process. */
  install (): void {
    process.on('uncaughtException', (err) => this.record('uncaughtExceptions', err))
    process.on('unhandledRejection', (reason) => this.record('unhandledRejections', reason))
  }

  record (kind: keyof FaultCounts, err: unknown): void {
    const count = ++this.counts[kind]
    const total = this.counts.uncaughtExceptions + this.counts.unhandledRejections
    const what = kind === 'uncaughtExceptions' ? 'uncaught exception' : 'unhandled rejection'
    if (total <= LOGGED_WITH_STACK) this.log.error(what, { error: errorMessage(err), stack: err instanceof Error ? err.stack : undefined, count })
    else if (total % LOG_EVERY === 0) this.log.error(`${what} (only one line in ${LOG_EVERY} is logged from here on)`, { error: errorMessage(err), count })
    if (total >= this.limit) {
      this.log.error('too many internal errors: exiting so that a supervisor restarts the daemon', { ...this.counts, limit: this.limit })
      this.exit(70)
    }
  }
}
