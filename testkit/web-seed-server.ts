import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, normalize, sep } from 'node:path'
import { Transform } from 'node:stream'
import type { Cleanup } from './process.js'

/** How the server answers: files as they are, an error status, or every byte flipped. */
export type WebSeedMode = 'ok' | 'corrupt' | { readonly status: number, readonly retryAfter?: number }

export interface WebSeedServer {
  /** http://127.0.0.1:PORT/ */
  readonly url: string
  mode: WebSeedMode
  /** Bytes per second for each response body (0 = as fast as it goes). */
  rate: number
  readonly requests: number
  readonly bytesServed: number
  /** Every path asked for. */
  readonly paths: Set<string>
}

/**
 * A static file server for web seed tests (BEP 19): node:http serving `root`, with single range
 * requests answered 206 as every web server does; stopped at teardown.
 */
export async function startWebSeedServer (t: Cleanup, root: string): Promise<WebSeedServer> {
  const state = { mode: 'ok' as WebSeedMode, rate: 0, requests: 0, bytesServed: 0, paths: new Set<string>() }
  const server = createServer((request, response) => {
    state.requests++
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)
    state.paths.add(path)
    void serveFile(join(root, ...path.split('/')), request.headers.range, response, state)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const { port } = server.address() as AddressInfo
  return Object.assign(state, { url: `http://127.0.0.1:${port}/` }) as WebSeedServer
}

/** A missing file is 404 whatever the mode; an error mode answers every other request. */
async function serveFile (path: string, range: string | undefined, response: ServerResponse, state: { mode: WebSeedMode, rate: number, bytesServed: number }): Promise<void> {
  const size = await stat(normalize(path)).then((info) => info.isFile() ? info.size : -1, () => -1)
  if (size < 0 || path.split(sep).includes('..')) {
    response.writeHead(404).end()
    return
  }
  const mode = state.mode
  if (typeof mode === 'object') {
    if (mode.retryAfter !== undefined) response.setHeader('Retry-After', String(mode.retryAfter))
    response.writeHead(mode.status).end('no')
    return
  }
  const match = /^bytes=(\d+)-(\d+)$/.exec(range ?? '')
  const start = match ? Number(match[1]) : 0
  const end = match ? Math.min(Number(match[2]), size - 1) : size - 1
  if (match) response.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 })
  else response.writeHead(200, { 'Content-Length': size })
  const body = createReadStream(path, { start, end })
  const shaped = new Transform({
    transform (chunk: Buffer, _encoding, done) {
      state.bytesServed += chunk.length
      const out = mode === 'corrupt' ? Buffer.from(chunk.map((byte) => byte ^ 0xff)) : chunk
      if (state.rate <= 0) return done(null, out)
      setTimeout(() => done(null, out), (chunk.length / state.rate) * 1000)
    }
  })
  body.pipe(shaped).pipe(response)
  response.on('close', () => body.destroy())
}
