import { readFile, readdir } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { extname, join, relative, sep } from 'node:path'

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2'
}

/**
 * Scripts and styles from the daemon only (no inline script, no CDN), API calls to it only; the
 * page cannot be framed (clickjacking) nor post forms elsewhere.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin'
}

interface Asset {
  readonly type: string
  readonly body: Buffer
}

/**
 * The dashboard (src/web, compiled by `npm run build` into dist/web), served at `/`. The files
 * are read once, and only the paths of files found there answer: no URL is ever mapped to a path
 * on disk, so `..` and its encodings lead nowhere.
 */
export class WebUi {
  private assets: Promise<ReadonlyMap<string, Asset>> | undefined

  constructor (private readonly root: string) {}

  /** Answers a GET or HEAD; false when no file of the dashboard has that path. */
  async serve (path: string, head: boolean, response: ServerResponse): Promise<boolean> {
    this.assets ??= loadAssets(this.root)
    const assets = await this.assets
    const asset = assets.get(path === '/' ? '/index.html' : path)
    if (!asset) {
      if (path !== '/') return false
      sendPage(response, 404, { type: TYPES['.html']!, body: Buffer.from('<!doctype html><title>bidtorrent</title><p>The dashboard is not built: run <code>npm run build</code>.</p>') }, head, 'no-store')
      return true
    }
    // Vite names assets by content hash: they never change under their name; the page may.
    const cache = path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'
    sendPage(response, 200, asset, head, cache)
    return true
  }
}

async function loadAssets (root: string): Promise<ReadonlyMap<string, Asset>> {
  const assets = new Map<string, Asset>()
  let entries
  try {
    entries = await readdir(root, { withFileTypes: true, recursive: true })
  } catch {
    return assets
  }
  for (const entry of entries) {
    const type = TYPES[extname(entry.name).toLowerCase()]
    if (!entry.isFile() || type === undefined) continue
    const file = join(entry.parentPath, entry.name)
    assets.set(`/${relative(root, file).split(sep).join('/')}`, { type, body: await readFile(file) })
  }
  return assets
}

function sendPage (response: ServerResponse, status: number, asset: Asset, head: boolean, cache: string): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': asset.type, 'content-length': asset.body.length, 'cache-control': cache })
  response.end(head ? undefined : asset.body)
}
