import type { ServerResponse } from 'node:http'

/** The media type a client accepts to hear a long request's progress. */
export const NDJSON = 'application/x-ndjson'

/** At most one progress line this often: the client redraws a bar, it needs no more. */
const PROGRESS_INTERVAL_MS = 200

/**
 * A long request's answer as lines of JSON: `{"progress": …}` while it runs, then one
 * `{"result": …}` or `{"error": {code, message}}`. The status line goes out with the first
 * progress line, so a request that fails before any progress answers with its own status and a
 * plain JSON body, as every other request does. The last progress before the end is always sent.
 */
export class ProgressLines {
  private started = false
  private pending: unknown
  private lastSent = 0
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly response: ServerResponse) {}

  /** Whether the answer is lines (progress went out); if not, it is sent as usual. */
  get streaming (): boolean {
    return this.started || this.pending !== undefined
  }

  progress (update: unknown): void {
    this.pending = update
    const wait = this.lastSent + PROGRESS_INTERVAL_MS - Date.now()
    if (wait <= 0) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), wait)
  }

  /** Sends what is pending, then the last line, and ends the answer. */
  finish (last: { result: unknown } | { error: { code: string, message: string } }): void {
    this.flush()
    this.response.end(`${serialize(last)}\n`)
  }

  private flush (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.pending === undefined || this.response.destroyed) return
    if (!this.started) {
      this.response.writeHead(200, { 'content-type': NDJSON, 'cache-control': 'no-store' })
      this.started = true
    }
    this.response.write(`${serialize({ progress: this.pending })}\n`)
    this.pending = undefined
    this.lastSent = Date.now()
  }
}

export function serialize (body: unknown): string {
  return JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))
}
