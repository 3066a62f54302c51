import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { API_FILE, type ApiEndpoint } from '../daemon/api-types.js'
import { BidtorrentError, DaemonUnreachableError, errorMessage } from '../util/errors.js'
import type {
  AddBody, BidBody, ChannelClosed, ChannelView, DaemonStatus, EventsPage, FloorBody, LimitsBody, OpenChannelBody, PeerInfo, RemovedTorrent, SeedBody,
  SettleResult, TopUpBody, TorrentDetails, TorrentFile, TorrentView, VoucherTotals, WalletBalance, Withdrawal, WithdrawBody
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

  status (): Promise<DaemonStatus> { return this.request('GET', '/v1/status') }
  events (after = 0): Promise<EventsPage> { return this.request('GET', `/v1/events?after=${after}`) }
  torrents (): Promise<TorrentView[]> { return this.request('GET', '/v1/torrents') }
  add (body: AddBody): Promise<TorrentView> { return this.request('POST', '/v1/torrents', body) }
  seed (body: SeedBody): Promise<TorrentView> { return this.request('POST', '/v1/seed', body) }
  torrent (id: string): Promise<TorrentDetails> { return this.request('GET', torrentPath(id)) }
  peers (id: string): Promise<PeerInfo[]> { return this.request('GET', `${torrentPath(id)}/peers`) }
  torrentFile (id: string): Promise<TorrentFile> { return this.request('GET', `${torrentPath(id)}/torrent`) }
  pause (id: string): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/pause`) }
  resume (id: string): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/resume`) }
  setLimits (id: string, body: LimitsBody): Promise<TorrentView> { return this.request('PATCH', `${torrentPath(id)}/limits`, body) }
  bid (id: string, body: BidBody): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/bid`, body) }
  floor (id: string, body: FloorBody): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/floor`, body) }
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
