import type { AddBody, BidBody, ChannelView, DaemonStatus, FilesBody, FloorBody, PeerInfo, RemovedTorrent, SeedBody, TorrentDetails, TorrentView, VoucherTotals, WalletBalance } from '../api/types.js'

/** Where the token lives for this tab only: gone when the tab closes, never sent as a cookie. */
const TOKEN_KEY = 'bidtorrent.token'

export class ApiError extends Error {
  constructor (readonly status: number, message: string) {
    super(message)
  }
}

export function savedToken (): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function forgetToken (): void {
  sessionStorage.removeItem(TOKEN_KEY)
}

const torrentPath = (id: string): string => `/v1/torrents/${encodeURIComponent(id)}`

/**
 * The daemon's native API, from the page it served: same origin, the token as a bearer header
 * (no cookie, so another site's page cannot make the browser send it).
 */
export class Api {
  /** `expired` hears a 401: the daemon restarted (a new token each start) and the user must log in again. */
  constructor (private readonly token: string, private readonly expired: () => void = () => {}) {}

  /** Checks the token against the daemon and keeps it for this tab. */
  static async login (token: string, expired: () => void): Promise<Api> {
    await new Api(token.trim()).status()
    sessionStorage.setItem(TOKEN_KEY, token.trim())
    return new Api(token.trim(), expired)
  }

  async request<T> (method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      cache: 'no-store'
    })
    const text = await response.text()
    let payload: unknown
    try {
      payload = text ? JSON.parse(text) : undefined
    } catch {
      throw new ApiError(response.status, `the daemon answered HTTP ${response.status} with something that is not JSON`)
    }
    if (response.status === 401) this.expired()
    if (!response.ok) {
      const error = (payload as { error?: { message?: string } } | undefined)?.error
      throw new ApiError(response.status, error?.message ?? `the daemon answered HTTP ${response.status}`)
    }
    return payload as T
  }

  status (): Promise<DaemonStatus> { return this.request('GET', '/v1/status') }
  torrents (): Promise<TorrentView[]> { return this.request('GET', '/v1/torrents') }
  torrent (id: string): Promise<TorrentDetails> { return this.request('GET', torrentPath(id)) }
  peers (id: string): Promise<PeerInfo[]> { return this.request('GET', `${torrentPath(id)}/peers`) }
  add (body: AddBody): Promise<TorrentView> { return this.request('POST', '/v1/torrents', body) }
  /** Makes a torrent of a path on the daemon's machine and seeds it (hashing it first: a large folder takes a while). */
  seed (body: SeedBody): Promise<TorrentView> { return this.request('POST', '/v1/seed', body) }
  floor (id: string, body: FloorBody): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/floor`, body) }
  pause (id: string): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/pause`) }
  resume (id: string): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/resume`) }
  remove (id: string, deleteData: boolean): Promise<RemovedTorrent> { return this.request('DELETE', `${torrentPath(id)}?deleteData=${deleteData ? 'true' : 'false'}`) }
  files (id: string, body: FilesBody): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/files`, body) }
  bid (id: string, body: BidBody): Promise<TorrentView> { return this.request('POST', `${torrentPath(id)}/bid`, body) }
  earnings (): Promise<VoucherTotals> { return this.request('GET', '/v1/earnings') }
  spending (): Promise<VoucherTotals> { return this.request('GET', '/v1/spending') }
  wallet (): Promise<WalletBalance> { return this.request('GET', '/v1/wallet') }
  channels (): Promise<ChannelView[]> { return this.request('GET', '/v1/channels') }
}

/** A .torrent file as the API takes it: base64. */
export async function fileToBase64 (file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer())
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}
