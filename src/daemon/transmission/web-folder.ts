import { createReadStream } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, sep } from 'node:path'

export const WEB_PATH = '/transmission/web'

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8'
}

/**
 * The file under `root` a request path names, or undefined. A path that does not decode, holds a
 * dot-segment, a backslash or a NUL is refused before the disk is asked; what it names must then
 * resolve (symbolic links followed) to a file inside the folder, so no link leads out of it either.
 */
export async function fileInFolder (root: string, requestPath: string): Promise<string | undefined> {
  let relative: string
  try {
    relative = decodeURIComponent(requestPath)
  } catch {
    return undefined
  }
  const segments = relative.split('/').filter((segment) => segment !== '')
  if (segments.some((segment) => segment === '..' || segment === '.' || segment.includes('\\') || segment.includes('\0'))) return undefined
  const home = await realpath(root).catch(() => undefined)
  if (home === undefined) return undefined
  let path = await realpath(join(home, ...segments)).catch(() => undefined)
  if (path !== undefined && (await stat(path)).isDirectory()) path = await realpath(join(path, 'index.html')).catch(() => undefined)
  if (path === undefined || !path.startsWith(`${home}${sep}`)) return undefined
  return (await stat(path)).isFile() ? path : undefined
}

/**
 * A web client for the RPC (Transmission's own: Debian ships it in /usr/share/transmission/web),
 * served read-only from the folder the user named (rpcWebFolder) at /transmission/web/. The
 * caller has checked the Host and the credentials, as for the RPC.
 */
export async function serveWebFolder (root: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  request.resume()
  const path = (request.url ?? '/').split('?')[0]!
  if (path === WEB_PATH) {
    response.writeHead(301, { location: `${WEB_PATH}/` })
    return void response.end()
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') return plain(response, 405, 'the web client is read with GET')
  const file = await fileInFolder(root, path.slice(WEB_PATH.length))
  if (file === undefined) return plain(response, 404, 'not found')
  const { size } = await stat(file)
  response.writeHead(200, {
    'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': size,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-cache'
  })
  if (request.method === 'HEAD') return void response.end()
  createReadStream(file).on('error', () => response.destroy()).pipe(response)
}

function plain (response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}
