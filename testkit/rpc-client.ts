import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ApiEndpoint } from '../src/api/types.js'

/** An answer of Transmission's RPC: its result string and arguments. */
export interface RpcAnswer {
  readonly result: string
  readonly arguments: Record<string, unknown>
}

/**
 * Calls a daemon's Transmission RPC as a plain HTTP client would (for what transmission-remote
 * 3.00 cannot send): Basic auth with the API token, and the session id fetched on the first 409.
 */
export async function rpcCall (dataDir: string, method: string, args: Record<string, unknown> = {}): Promise<RpcAnswer> {
  const { url, token } = JSON.parse(await readFile(join(dataDir, 'api.json'), 'utf8')) as ApiEndpoint
  const headers: Record<string, string> = { authorization: `Basic ${Buffer.from(`test:${token}`).toString('base64')}`, 'content-type': 'application/json' }
  const body = JSON.stringify({ method, arguments: args })
  let response = await fetch(`${url}/transmission/rpc`, { method: 'POST', headers, body })
  if (response.status === 409) {
    headers['x-transmission-session-id'] = response.headers.get('x-transmission-session-id') ?? ''
    response = await fetch(`${url}/transmission/rpc`, { method: 'POST', headers, body })
  }
  if (!response.ok) throw new Error(`the RPC answered HTTP ${response.status}: ${await response.text()}`)
  return await response.json() as RpcAnswer
}
