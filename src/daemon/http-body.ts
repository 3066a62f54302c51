import type { IncomingMessage } from 'node:http'
import { BidtorrentError, UsageError } from '../util/errors.js'

/** The largest request body taken: a .torrent of 50 MiB, base64, in JSON. */
const MAX_BODY_BYTES = 72 * 1024 * 1024

/** A request's JSON body (an empty body is `{}`), refused past the size limit or when it does not parse. */
export async function readJson (request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new BidtorrentError('EBODYTOOLARGE', 'request body too large')
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return {}
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new UsageError('request body is not valid JSON')
  }
}
