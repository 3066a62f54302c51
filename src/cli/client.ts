import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { API_FILE, type ApiEndpoint } from '../daemon/daemon.js'
import { BidtorrentError, DaemonUnreachableError, errorMessage } from '../util/errors.js'

/** Talks to a running daemon through its control API, found via `<dataDir>/api.json`. */
export class ApiClient {
  private constructor (private readonly endpoint: ApiEndpoint) {}

  static async forDataDir (dataDir: string): Promise<ApiClient> {
    const path = join(dataDir, API_FILE)
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch {
      throw new DaemonUnreachableError(`no daemon is running for data directory ${dataDir} (start one with "bidtorrent daemon --data-dir ${dataDir}")`)
    }
    let endpoint: ApiEndpoint
    try {
      endpoint = JSON.parse(text) as ApiEndpoint
    } catch {
      throw new DaemonUnreachableError(`${path} is corrupt; restart the daemon`)
    }
    if (typeof endpoint.url !== 'string' || typeof endpoint.token !== 'string') {
      throw new DaemonUnreachableError(`${path} is corrupt; restart the daemon`)
    }
    return new ApiClient(endpoint)
  }

  async request<T> (method: string, path: string, body?: unknown): Promise<T> {
    let response: Response
    try {
      response = await fetch(`${this.endpoint.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.endpoint.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {})
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      const reason = cause?.code === 'ECONNREFUSED' ? 'connection refused' : errorMessage(cause ?? err)
      throw new DaemonUnreachableError(`cannot reach the daemon at ${this.endpoint.url} (${reason}); is it running?`)
    }
    const text = await response.text()
    let payload: unknown
    try {
      payload = text ? JSON.parse(text) : undefined
    } catch {
      throw new DaemonUnreachableError(`the daemon answered with something that is not JSON (HTTP ${response.status})`)
    }
    if (!response.ok) {
      const error = (payload as { error?: { code?: string; message?: string } } | undefined)?.error
      throw new BidtorrentError(error?.code ?? 'EDAEMON', error?.message ?? `the daemon answered HTTP ${response.status}`)
    }
    return payload as T
  }
}
