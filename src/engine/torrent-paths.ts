import { InvalidTorrentError } from '../util/errors.js'

/**
 * Paths come from strangers: every component must be a plain name, so no torrent can write outside
 * its download directory (no '..', no separators, no absolute paths, no NUL bytes).
 */
export function decodeComponent (value: unknown, field: string): string {
  const text = value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : typeof value === 'string' ? value : undefined
  if (text === undefined || text === '' || text === '.' || text === '..' || /[/\\\0]/.test(text)) {
    throw new InvalidTorrentError(`unsafe or missing path component in ${field}`)
  }
  return text
}
