import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { timingSafeEqual } from 'node:crypto'
import type { Logger } from 'winston'
import { BidtorrentError, TorrentNotFoundError, UsageError, InvalidTorrentError, errorMessage } from '../util/errors.js'
import { addRequestSchema, bidRequestSchema, filesRequestSchema, floorRequestSchema, limitsRequestSchema, locationRequestSchema, openChannelSchema, optionsRequestSchema, parseInput, peersRequestSchema, seedRequestSchema, topUpSchema, withdrawSchema } from './api-schemas.js'
import { NDJSON, ProgressLines, serialize } from './api-stream.js'
import { readJson } from './http-body.js'
import { crossOriginWrite, hostAllowed } from './http-guard.js'
import type { DaemonStatus } from './api-types.js'
import type { ChainService } from './chain-service.js'
import type { DaemonMetrics } from './metrics.js'
import { swarmHealthView } from './swarm-health.js'
import { RPC_PATH, type TransmissionRpc } from './transmission/rpc-server.js'
import { WEB_PATH } from './transmission/web-folder.js'
import type { TorrentService } from './torrent-service.js'
import type { VoucherService } from './voucher-service.js'
import { WebUi } from './web-ui.js'

export const API_HOST = '127.0.0.1'

/** Whether an address is the loopback (what the API listens on unless the user names another). */
export function isLoopback (host: string): boolean {
  return host === '::1' || host.startsWith('127.') || host === '::ffff:127.0.0.1'
}

/** How a client on this machine reaches an API listening on `host` (a wildcard through the loopback). */
export function apiUrlOf (host: string, port: number): string {
  const reach = host === '0.0.0.0' || host === '::' ? API_HOST : host
  return `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`
}

/** `progress` is there when the client accepts progress lines (NDJSON, see api-stream.ts). */
type Handler = (params: { id: string; body: unknown; query: URLSearchParams; signal: AbortSignal; progress: ((update: unknown) => void) | undefined }) => Promise<unknown> | unknown

/** What the API serves, by concern. */
export interface ApiServices {
  readonly torrents: TorrentService
  readonly vouchers: VoucherService
  readonly chain: ChainService
  readonly status: () => DaemonStatus
  readonly metrics: DaemonMetrics
  readonly transmission: TransmissionRpc
}

/** Who may reach the API by name (see http-guard.ts), and where the built dashboard is. */
export interface ApiAccess {
  readonly allowedHosts: readonly string[]
  readonly webRoot: string
}

interface Route {
  readonly method: string
  /** The path as written here (`:id` for a torrent), the name a request is counted under. */
  readonly path: string
  readonly pattern: RegExp
  readonly handler: Handler
}

/** An answer that is not JSON (the Prometheus text). */
class TextBody {
  constructor (readonly contentType: string, readonly text: string) {}
}

/**
 * The control API: JSON over HTTP, bound to 127.0.0.1 unless the user names another address
 * (apiHost), every request carrying the bearer token the daemon wrote (mode 0600) into its data directory.
 */
export class ApiServer {
  private server: Server | undefined
  private readonly routes: Route[]
  private readonly token: Buffer

  private readonly metrics: DaemonMetrics
  private readonly transmission: TransmissionRpc
  private readonly web: WebUi

  constructor ({ torrents, vouchers, chain, status, metrics, transmission }: ApiServices, token: string, private readonly access: ApiAccess, private readonly log: Logger) {
    this.web = new WebUi(access.webRoot)
    this.metrics = metrics
    this.transmission = transmission
    this.token = Buffer.from(token)
    const route = (method: string, path: string, handler: Handler): Route =>
      ({ method, path, pattern: new RegExp(`^${path.replace(':id', '([^/]+)')}$`), handler })
    // Request bodies are parsed here, at the edge: the services take typed values. A torrent's id
    // is resolved before its body is read, so an unknown torrent is a 404 whatever the body.
    this.routes = [
      route('GET', '/v1/status', () => status()),
      route('GET', '/metrics', async () => new TextBody(metrics.contentType, await metrics.text())),
      route('GET', '/v1/events', ({ query }) => torrents.events.after(afterOf(query))),
      route('GET', '/v1/torrents', () => torrents.list()),
      route('POST', '/v1/torrents', ({ body }) => torrents.add(parseInput(addRequestSchema, body))),
      route('POST', '/v1/seed', ({ body, signal, progress }) => torrents.seed(parseInput(seedRequestSchema, body), signal, progress)),
      route('GET', '/v1/torrents/:id', ({ id }) => torrents.info(id)),
      route('GET', '/v1/torrents/:id/peers', ({ id }) => torrents.peers(id)),
      route('GET', '/v1/torrents/:id/health', ({ id }) => swarmHealthView(torrents.info(id))),
      route('GET', '/v1/torrents/:id/torrent', ({ id }) => ({ torrent: torrents.torrentFile(id).toString('base64') })),
      route('POST', '/v1/torrents/:id/pause', ({ id }) => torrents.pause(id)),
      route('POST', '/v1/torrents/:id/resume', ({ id }) => torrents.resume(id)),
      route('POST', '/v1/torrents/:id/verify', ({ id }) => torrents.verify(id)),
      route('POST', '/v1/torrents/:id/reannounce', ({ id }) => torrents.reannounce(id)),
      route('POST', '/v1/torrents/:id/location', ({ id, body }) => torrents.setLocation(torrents.find(id), parseInput(locationRequestSchema, body))),
      route('POST', '/v1/torrents/:id/peers', ({ id, body }) => torrents.addPeers(torrents.find(id), parseInput(peersRequestSchema, body))),
      route('PATCH', '/v1/torrents/:id/limits', ({ id, body }) => torrents.setLimits(torrents.find(id), parseInput(limitsRequestSchema, body))),
      route('PATCH', '/v1/torrents/:id/options', ({ id, body }) => torrents.setOptions(torrents.find(id), parseInput(optionsRequestSchema, body))),
      route('POST', '/v1/torrents/:id/bid', ({ id, body }) => torrents.setBid(torrents.find(id), parseInput(bidRequestSchema, body))),
      route('POST', '/v1/torrents/:id/files', ({ id, body }) => torrents.setFiles(torrents.find(id), parseInput(filesRequestSchema, body))),
      route('POST', '/v1/torrents/:id/floor', ({ id, body }) => torrents.setFloor(torrents.find(id), parseInput(floorRequestSchema, body))),
      route('GET', '/v1/earnings', () => vouchers.earnings()),
      route('POST', '/v1/settle', () => vouchers.settle()),
      route('GET', '/v1/wallet', () => chain.walletBalance()),
      route('GET', '/v1/channels', () => chain.channels()),
      route('POST', '/v1/channels', ({ body }) => chain.openChannel(parseInput(openChannelSchema, body))),
      route('POST', '/v1/channels/:id/topup', ({ id, body }) => chain.topUpChannel(id, parseInput(topUpSchema, body))),
      route('POST', '/v1/channels/:id/close', ({ id }) => chain.closeChannel(id)),
      route('POST', '/v1/withdraw', ({ body }) => chain.withdraw(parseInput(withdrawSchema, body))),
      route('GET', '/v1/spending', () => vouchers.spending()),
      route('DELETE', '/v1/torrents/:id', ({ id, query }) => torrents.remove(id, query.get('deleteData') === 'true'))
    ]
  }

  async listen (port: number, host = API_HOST): Promise<number> {
    const server = createServer((request, response) => { void this.handle(request, response) })
    server.requestTimeout = 5 * 60_000
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    return (server.address() as AddressInfo).port
  }

  async close (): Promise<void> {
    const server = this.server
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  private authorized (request: IncomingMessage): boolean {
    const header = request.headers.authorization ?? ''
    const presented = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '')
    return presented.length === this.token.length && timingSafeEqual(presented, this.token)
  }

  private async handle (request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint()
    let counted = 'unknown'
    response.once('finish', () => {
      this.metrics.observeRequest(request.method ?? '', counted, response.statusCode, Number(process.hrtime.bigint() - started) / 1e9)
    })
    const path = (request.url ?? '/').split('?')[0] ?? '/'
    // Transmission's remotes speak its RPC with its own auth and session ids (see TransmissionRpc);
    // transmission-remote asks for the path with a slash at its end.
    if (path === RPC_PATH || path === `${RPC_PATH}/`) {
      counted = RPC_PATH
      return await this.transmission.handle(request, response)
    }
    if (path === WEB_PATH || path?.startsWith(`${WEB_PATH}/`)) {
      counted = WEB_PATH
      return await this.transmission.handleWeb(request, response)
    }
    if (!hostAllowed(request.headers.host, this.access.allowedHosts)) {
      request.resume()
      return send(response, 421, { error: { code: 'EHOST', message: 'this address is not allowed by bidtorrent (use an IP address, localhost, or add the name to rpcAllowedHosts)' } })
    }
    if (crossOriginWrite(request)) {
      request.resume()
      return send(response, 403, { error: { code: 'ECROSSORIGIN', message: 'a page on another site may not change anything here' } })
    }
    // The dashboard's files need no token (they hold no data); the API calls they make do.
    if ((request.method === 'GET' || request.method === 'HEAD') && !isApiPath(path) && await this.web.serve(path, request.method === 'HEAD', response)) return
    if (!this.authorized(request)) {
      request.resume()
      return send(response, 401, { error: { code: 'EUNAUTHORIZED', message: 'missing or wrong API token' } })
    }
    const url = new URL(request.url ?? '/', 'http://localhost')
    let allowed = false
    for (const route of this.routes) {
      const match = route.pattern.exec(url.pathname)
      if (!match) continue
      allowed = true
      if (route.method !== request.method) continue
      counted = route.path
      const lines = (request.headers.accept ?? '').includes(NDJSON) ? new ProgressLines(response) : undefined
      try {
        const body = request.method === 'GET' || request.method === 'DELETE' ? undefined : await readJson(request)
        // A caller that hangs up before the answer (a CLI stopped with Ctrl-C) stops long work.
        const gone = new AbortController()
        response.once('close', () => { if (!response.writableFinished) gone.abort() })
        const progress = lines ? (update: unknown): void => lines.progress(update) : undefined
        const result = await route.handler({ id: decodeId(match[1] ?? ''), body, query: url.searchParams, signal: gone.signal, progress })
        if (result instanceof TextBody) return sendText(response, result)
        return lines?.streaming ? lines.finish({ result }) : send(response, 200, result)
      } catch (err) {
        const status = statusFor(err)
        if (status >= 500) this.log.error('control API request failed', { path: url.pathname, error: errorMessage(err) })
        const code = err instanceof BidtorrentError ? err.code : 'EINTERNAL'
        const error = { code, message: errorMessage(err) }
        return lines?.streaming ? lines.finish({ error }) : send(response, status, { error })
      }
    }
    request.resume()
    send(response, allowed ? 405 : 404, { error: { code: allowed ? 'EMETHOD' : 'ENOROUTE', message: `${request.method ?? ''} ${url.pathname} is not an API call` } })
  }
}

function isApiPath (path: string): boolean {
  return path.startsWith('/v1/') || path === '/metrics'
}

/** `?after=N`: a whole number from 0 (0 when absent). */
function afterOf (query: URLSearchParams): number {
  const text = query.get('after') ?? '0'
  if (!/^\d{1,15}$/.test(text)) throw new UsageError(`after: "${text}" is not a whole number from 0`)
  return Number(text)
}

/** An id from the path; a malformed percent-encoding is the caller's mistake (400), not ours. */
function decodeId (raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new UsageError(`"${raw}" is not a valid id (a malformed %-encoding)`)
  }
}

function statusFor (err: unknown): number {
  if (err instanceof TorrentNotFoundError) return 404
  if (err instanceof UsageError || err instanceof InvalidTorrentError || err instanceof SyntaxError) return 400
  if (err instanceof BidtorrentError && err.code === 'EBODYTOOLARGE') return 413
  return 500
}

function sendText (response: ServerResponse, body: TextBody): void {
  response.writeHead(200, { 'content-type': body.contentType, 'content-length': Buffer.byteLength(body.text) })
  response.end(body.text)
}

function send (response: ServerResponse, status: number, body: unknown): void {
  const text = serialize(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}
