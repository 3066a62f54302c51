import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'winston'
import { BidtorrentError, errorMessage } from '../../util/errors.js'
import { hostAllowed } from '../http-guard.js'
import { readJson } from '../http-body.js'
import { RpcError, RpcMethods, type RpcContext } from './methods.js'
import { serveWebFolder } from './web-folder.js'

export const RPC_PATH = '/transmission/rpc'
const SESSION_HEADER = 'x-transmission-session-id'

/**
 * Transmission's RPC (`POST /transmission/rpc`) with Transmission's own protections:
 * - a Host header must name an IP address, localhost or a name the user allowed (against DNS
 *   rebinding: a web page cannot reach it through a name of its own);
 * - HTTP Basic auth, with the daemon's API token as the password (any user name);
 * - the X-Transmission-Session-Id exchange: a request without the current id gets 409 and the id,
 *   which a page on another origin cannot read (CSRF).
 */
export class TransmissionRpc {
  private readonly sessionId = randomBytes(24).toString('base64url')
  private readonly methods: RpcMethods
  private readonly token: Buffer

  constructor (
    context: Omit<RpcContext, 'sessionId'>,
    token: string,
    private readonly allowedHosts: readonly string[],
    private readonly log: Logger,
    /** The web client's folder (rpcWebFolder), served at /transmission/web/; null: none. */
    private readonly webFolder: string | null = null
  ) {
    this.token = Buffer.from(token)
    this.methods = new RpcMethods({ ...context, sessionId: () => this.sessionId })
  }

  /** The web client's files, behind the RPC's Host check and credentials. */
  async handleWeb (request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!this.admitted(request, response)) return
    if (this.webFolder === null) {
      request.resume()
      return sendPlain(response, 404, 'no web client: set rpcWebFolder to a folder holding one (Debian\'s transmission-common ships /usr/share/transmission/web)')
    }
    try {
      await serveWebFolder(this.webFolder, request, response)
    } catch (err) {
      this.log.warn('cannot serve the web client', { error: errorMessage(err) })
      if (!response.headersSent) sendPlain(response, 500, 'cannot read the web client\'s folder')
    }
  }

  /** Transmission's first two protections: a Host allowed, then the credentials; false when it answered already. */
  private admitted (request: IncomingMessage, response: ServerResponse): boolean {
    if (!hostAllowed(request.headers.host, this.allowedHosts)) {
      request.resume()
      sendPlain(response, 421, 'Misdirected Request: this address is not allowed by bidtorrent (use an IP address, localhost, or add the name to rpcAllowedHosts)')
      return false
    }
    if (!this.authorized(request.headers.authorization)) {
      request.resume()
      response.setHeader('www-authenticate', 'Basic realm="bidtorrent"')
      sendPlain(response, 401, 'Unauthorized: the password is the daemon\'s API token (api.token in its data directory)')
      return false
    }
    return true
  }

  async handle (request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!this.admitted(request, response)) return
    if (request.headers[SESSION_HEADER] !== this.sessionId) {
      request.resume()
      response.setHeader('x-transmission-session-id', this.sessionId)
      return sendPlain(response, 409, `${SESSION_HEADER}: ${this.sessionId}`)
    }
    if (request.method !== 'POST') {
      request.resume()
      return sendPlain(response, 405, 'the RPC takes POST')
    }
    let tag: unknown
    try {
      const body = await readJson(request)
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RpcError('the request is not a JSON object')
      const { method, arguments: args, tag: requestTag } = body as Record<string, unknown>
      tag = requestTag
      if (typeof method !== 'string') throw new RpcError('no method')
      if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) throw new RpcError('arguments must be an object')
      const result = await this.methods.call(method, (args ?? {}) as Record<string, unknown>)
      return sendJson(response, { result: 'success', arguments: result, ...(tag !== undefined ? { tag } : {}) })
    } catch (err) {
      if (!(err instanceof RpcError) && !(err instanceof BidtorrentError)) this.log.error('Transmission RPC request failed', { error: errorMessage(err) })
      return sendJson(response, { result: errorMessage(err), arguments: {}, ...(tag !== undefined ? { tag } : {}) })
    }
  }

  private authorized (header: string | undefined): boolean {
    if (!header?.startsWith('Basic ')) return false
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
    const password = Buffer.from(decoded.slice(decoded.indexOf(':') + 1))
    return decoded.includes(':') && password.length === this.token.length && timingSafeEqual(password, this.token)
  }
}

function sendPlain (response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}

function sendJson (response: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}
