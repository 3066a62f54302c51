import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'

/**
 * Whether a Host header names this machine as the user reaches it: an IP address, localhost, or
 * a name the user allowed (rpcAllowedHosts). A web page cannot then reach the daemon through a
 * name of its own that resolves to 127.0.0.1 (DNS rebinding).
 */
export function hostAllowed (host: string | undefined, allowedHosts: readonly string[]): boolean {
  if (host === undefined) return false
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '')
  if (isIP(name) !== 0 || name === 'localhost') return true
  return allowedHosts.some((allowed) => allowed.toLowerCase() === name.toLowerCase())
}

/** Requests that only read: a page on another site may make them, it cannot read the answers (no CORS). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * A request that changes something and comes from a page on another origin, as the browser says
 * (Origin, Sec-Fetch-Site). The dashboard sends its token as a header, never a cookie, so such a
 * request could not authenticate anyway; refusing it outright keeps that true whatever changes.
 * Tools (curl, the CLI) send neither header and are not affected.
 */
export function crossOriginWrite (request: IncomingMessage): boolean {
  if (SAFE_METHODS.has(request.method ?? '')) return false
  const site = request.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true
  const origin = request.headers.origin
  if (origin === undefined) return false
  try {
    return new URL(origin).host.toLowerCase() !== (request.headers.host ?? '').toLowerCase()
  } catch {
    return true
  }
}
