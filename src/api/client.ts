import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NDJSON } from '../daemon/api-stream.js'
import { API_FILE, type ApiEndpoint } from '../daemon/api-types.js'
import { BidtorrentError, DaemonUnreachableError, errorMessage } from '../util/errors.js'
import type {
  AddBody, BidBody, ChannelClosed, CreationProgress, ChannelView, DaemonStatus, EventsPage, FilesBody, FloorBody, LimitsBody, LocationBody, OpenChannelBody, OptionsBody, PeerInfo, RemovedTorrent, SeedBody,
  SettleResult, SwarmHealthView, TopUpBody, TorrentDetails, TorrentFile, TorrentView, VoucherTotals, WalletBalance, Withdrawal, WithdrawBody
} from './types.js'

/** A torrent's path: its id (info hash, prefix or name) as the daemon finds it. */
const torrentPath = (id: string): string => `/v1/torrents/${encodeURIComponent(id)}`

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
    return this.answer<T>(await this.send(method, path, body, {}))
  }

  /**
   * A long request whose progress the daemon reports as it goes (lines of JSON, see
   * daemon/api-stream.ts); the answer is the same as `request`'s. Abandoning the request (the
   * process exits, Ctrl-C) cancels the work in the daemon.
   */
  async requestWithProgress<T, P> (method: string, path: string, body: unknown, onProgress: (progress: P) => void): Promise<T> {
    const response = await this.send(method, path, body, { accept: `${NDJSON}, application/json` })
    if (!response.ok || !(response.headers.get('content-type') ?? '').startsWith(NDJSON) || !response.body) return this.answer<T>(response)
    const decoder = new TextDecoder()
    let text = ''
    for await (const chunk of response.body) {
      text += decoder.decode(chunk, { stream: true })
      for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n')) {
        const line = parseLine<T, P>(text.slice(0, end))
        text = text.slice(end + 1)
        if ('progress' in line) onProgress(line.progress)
        else if ('result' in line) return line.result
        else throw new BidtorrentError(line.error.code ?? 'EDAEMON', line.error.message ?? 'the daemon reported an error')
      }
    }
    throw new DaemonUnreachableError('the daemon closed the connection before it answered')
  }

  private async send (method: string, path: string, body: unknown, headers: Record<string, string>): Promise<Response> {
    try {
      return await fetch(`${this.endpoint.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.endpoint.token}`, ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {})
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      const reason = cause?.code === 'ECONNREFUSED' ? 'connection refused' : errorMessage(cause ?? err)
      throw new DaemonUnreachableError(`cannot reach the daemon at ${this.endpoint.url} (${reason}); is it running?`)
    }
  }

  private async answer<T> (response: Response): Promise<T> {
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

  /** `GET /metrics`: the Prometheus text. */
  async metrics (): Promise<string> {
    const response = await this.send('GET', '/metrics', undefined, {})
    if (!response.ok) return await this.answer<string>(response)
    return await response.text()
  }

  status (): Promise<DaemonStatus> { return this.request('GET', '/v1/status') }
  events (after = 0): Promise<EventsPage> { return this.request('GET', `/v1/events?after=${after}`) }
  torrents (): Promise<TorrentView[]> { return this.request('GET', '/v1/torrents') }
  add (body: AddBody): Promise<TorrentView> { return this.request('POST', '/v1/torrents', body) }
  /** Makes a torrent of a path and seeds it; `onProgress` hears how far the hashing is. */
  seed (body: SeedBody, onProgress?: (progress: CreationProgress) => void): Promise<TorrentView> {
    return onProgress ? this.requestWithProgress('POST', '/v1/seed', body, onProgress) : this.request('POST', '/v1/seed', body)
  }

  torrent (id: string): Promise<TorrentDetails> { return this.request('GET', torrentPath(id)) }
  peers (id: string): Promise<PeerInfo[]> { return this.request('GET', `${torrentPath(id)}/peers`) }
  health (id: string): Promise<SwarmHealthView> { return this.request('GET', `${torrentPath(id)}/health`) }
  torrentFile (id: string): Promise<TorrentFile> { return this.request('GET', `${torrentPath(id)}/torrent`) }
  pause (id: string): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/pause`) }
  resume (id: string): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/resume`) }
  verify (id: string): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/verify`) }
  setLocation (id: string, body: LocationBody): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/location`, body) }
  reannounce (id: string): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/reannounce`) }
  setLimits (id: string, body: LimitsBody): Promise<TorrentView> { return this.request('PATCH', `${torrentPath(id)}/limits`, body) }
  bid (id: string, body: BidBody): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/bid`, body) }
  floor (id: string, body: FloorBody): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/floor`, body) }
  /** Labels and seed limits. */
  setOptions (id: string, body: OptionsBody): Promise<TorrentView> { return this.request('PATCH', `${torrentPath(id)}/options`, body) }
  files (id: string, body: FilesBody): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/files`, body) }
  remove (id: string, deleteData: boolean): Promise<RemovedTorrent> { return this.request('DELETE', `${torrentPath(id)}?deleteData=${deleteData ? 'true' : 'false'}`) }
  earnings (): Promise<VoucherTotals> { return this.request('GET', '/v1/earnings') }
  spending (): Promise<VoucherTotals> { return this.request('GET', '/v1/spending') }
  settle (): Promise<SettleResult> { return this.request('POST', '/v1/settle') }
  wallet (): Promise<WalletBalance> { return this.request('GET', '/v1/wallet') }
  channels (): Promise<ChannelView[]> { return this.request('GET', '/v1/channels') }
  openChannel (body: OpenChannelBody): Promise<ChannelView> { return this.request('POST', '/v1/channels', body) }
  topUpChannel (id: string, body: TopUpBody): Promise<ChannelView> { return this.request('POST', `/v1/channels/${id}/topup`, body) }
  closeChannel (id: string): Promise<ChannelClosed> { return this.request('POST', `/v1/channels/${id}/close`) }
  withdraw (body: WithdrawBody): Promise<Withdrawal> { return this.request('POST', '/v1/withdraw', body) }
}

type ProgressLine<T, P> = { progress: P } | { result: T } | { error: { code?: string, message?: string } }

function parseLine<T, P> (line: string): ProgressLine<T, P> {
  try {
    const parsed = JSON.parse(line) as ProgressLine<T, P>
    if (typeof parsed === 'object' && parsed !== null && ('progress' in parsed || 'result' in parsed || 'error' in parsed)) return parsed
  } catch {}
  throw new DaemonUnreachableError('the daemon answered with a line that is not a progress report')
}
