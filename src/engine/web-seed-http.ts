import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import http from 'node:http'
import https from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { BidtorrentError, errorMessage } from '../util/errors.js'
import { isPrivateAddress } from './web-seed-url.js'

/** Why a range request failed: the kind decides the back-off (web-seed-plan.ts). */
export type FetchFailureKind =
  /** The server answered with an error status. */
  | 'http'
  /** It could not be reached, or the connection broke. */
  | 'network'
  | 'timeout'
  /** It answered, but not with the bytes asked for (no range support, wrong range, too many bytes). */
  | 'protocol'
  /** The URL names an address this daemon will not call (private, loopback; not http). */
  | 'refused'

export class WebSeedFetchError extends BidtorrentError {
  constructor (readonly kind: FetchFailureKind, message: string, readonly status?: number, readonly retryAfterMs?: number) {
    super('EWEBSEED', message)
  }
}

export interface HttpOptions {
  readonly allowPrivate: boolean
  /** A request with no byte for this long is given up. */
  readonly timeoutMs: number
  readonly agents: WebSeedAgents
}

/** One part of one file: bytes [position, position + length) of a file of fileLength bytes, copied into `into` at `offset`. */
export interface RangeRequest {
  readonly url: URL
  readonly position: number
  readonly length: number
  readonly fileLength: number
  readonly into: Buffer
  readonly offset: number
  readonly signal: AbortSignal
}

const MAX_REDIRECTS = 5
/** Retry-After beyond this is not believed (a server must not park us for a day). */
const MAX_RETRY_AFTER_MS = 3_600_000
const USER_AGENT = 'bidtorrent/0.1.0'

/** Keep-alive agents for a torrent's web seeds: a few sockets per origin, as BEP 19's "several connections". */
export class WebSeedAgents {
  readonly http: http.Agent
  readonly https: https.Agent

  constructor (maxSocketsPerOrigin: number) {
    this.http = new http.Agent({ keepAlive: true, maxSockets: maxSocketsPerOrigin })
    this.https = new https.Agent({ keepAlive: true, maxSockets: maxSocketsPerOrigin })
  }

  destroy (): void {
    this.http.destroy()
    this.https.destroy()
  }
}

/**
 * Fetches one byte range into the buffer, following redirects (http and https only, each hop
 * checked like the first). It never buffers more than was asked: a server sending more, a 200
 * for part of a file, or a wrong Content-Range is a 'protocol' failure.
 */
export async function fetchRange (request: RangeRequest, options: HttpOptions): Promise<void> {
  let url = request.url
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const next = await requestOnce(url, request, options)
    if (next === undefined) return
    url = next
  }
  throw new WebSeedFetchError('protocol', `more than ${MAX_REDIRECTS} redirects`)
}

/** The address check, made when the socket is about to connect (so a DNS answer that changes is checked too). */
function guardedLookup (allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0)
      const refused = allowPrivate ? undefined : addresses.find((address) => isPrivateAddress(address.address))
      if (refused) return callback(privateRefusal(hostname, refused.address), '', 0)
      if (options.all) return (callback as unknown as (err: null, addresses: LookupAddress[]) => void)(null, addresses)
      const first = addresses[0]
      if (!first) return callback(new WebSeedFetchError('network', `${hostname} has no address`), '', 0)
      callback(null, first.address, first.family)
    })
  }
}

function privateRefusal (host: string, address: string): WebSeedFetchError {
  return new WebSeedFetchError('refused', `${host} is a private or loopback address (${address}); the setting webSeedsAllowPrivate allows it`)
}

function requestOnce (url: URL, request: RangeRequest, options: HttpOptions): Promise<URL | undefined> {
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0 && !options.allowPrivate && isPrivateAddress(host)) return Promise.reject(privateRefusal(host, host))
  const secure = url.protocol === 'https:'
  if (!secure && url.protocol !== 'http:') return Promise.reject(new WebSeedFetchError('refused', `${url.protocol} is not http or https`))
  const last = request.position + request.length - 1
  return new Promise<URL | undefined>((resolve, reject) => {
    const fail = (err: unknown): void => reject(asFetchError(err, request.signal))
    const req = (secure ? https : http).request(url, {
      method: 'GET',
      agent: secure ? options.agents.https : options.agents.http,
      lookup: guardedLookup(options.allowPrivate),
      signal: request.signal,
      timeout: options.timeoutMs,
      headers: { Range: `bytes=${request.position}-${last}`, 'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity' }
    }, (response) => {
      const status = response.statusCode ?? 0
      const location = response.headers.location
      if (status >= 300 && status < 400 && location !== undefined) {
        response.resume()
        let next: URL
        try {
          next = new URL(location, url)
        } catch {
          return fail(new WebSeedFetchError('protocol', `redirect to an invalid URL: ${location.slice(0, 200)}`))
        }
        return resolve(next)
      }
      const problem = checkResponse(response, request)
      if (problem) {
        response.destroy()
        return fail(problem)
      }
      readBody(response, request).then(() => resolve(undefined), fail)
    })
    req.on('timeout', () => req.destroy(new WebSeedFetchError('timeout', `no answer in ${Math.round(options.timeoutMs / 1000)} s`)))
    req.on('error', fail)
    req.end()
  })
}

/** The status and headers must promise exactly the bytes asked for. */
function checkResponse (response: http.IncomingMessage, request: RangeRequest): WebSeedFetchError | undefined {
  const status = response.statusCode ?? 0
  const last = request.position + request.length - 1
  if (status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers['content-range'] ?? '')
    if (!range || Number(range[1]) !== request.position || Number(range[2]) !== last) {
      return new WebSeedFetchError('protocol', `asked for bytes ${request.position}-${last}, the server sent ${response.headers['content-range'] ?? 'no Content-Range'}`)
    }
    return undefined
  }
  if (status === 200) {
    // The whole file: only what was asked when the range was the whole file.
    const whole = request.position === 0 && request.length === request.fileLength
    const length = response.headers['content-length']
    if (whole && (length === undefined || Number(length) === request.length)) return undefined
    return new WebSeedFetchError('protocol', 'the server ignores range requests (200 instead of 206)', 200)
  }
  const retryAfterMs = status === 503 || status === 429 ? retryAfterOf(response.headers['retry-after']) : undefined
  return new WebSeedFetchError('http', `HTTP ${status}${response.statusMessage ? ' ' + response.statusMessage : ''}`, status, retryAfterMs)
}

/** Copies the body into place; more bytes than asked, or fewer, fail the request at once. */
function readBody (response: http.IncomingMessage, request: RangeRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = 0
    response.on('data', (chunk: Buffer) => {
      if (received + chunk.length > request.length) {
        response.destroy(new WebSeedFetchError('protocol', `the server sent more than the ${request.length} bytes asked for`))
        return
      }
      chunk.copy(request.into, request.offset + received)
      received += chunk.length
    })
    response.on('end', () => {
      if (received === request.length) resolve()
      else reject(new WebSeedFetchError('protocol', `the server sent ${received} of ${request.length} bytes`))
    })
    response.on('error', reject)
    response.on('aborted', () => reject(new WebSeedFetchError('network', 'the connection broke in the body')))
  })
}

/** Seconds or an HTTP date; undefined when absent or unreadable, capped at an hour. */
export function retryAfterOf (header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined) return undefined
  const ms = /^\d+$/.test(header.trim()) ? Number(header.trim()) * 1000 : Date.parse(header) - now
  if (!Number.isFinite(ms) || ms < 0) return undefined
  return Math.min(ms, MAX_RETRY_AFTER_MS)
}

function asFetchError (err: unknown, signal: AbortSignal): WebSeedFetchError {
  if (err instanceof WebSeedFetchError) return err
  if (signal.aborted) return new WebSeedFetchError('network', 'aborted')
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && /^(ENOTFOUND|EAI_AGAIN)$/.test(code)) return new WebSeedFetchError('network', `cannot resolve the host (${code})`)
  return new WebSeedFetchError('network', errorMessage(err))
}
