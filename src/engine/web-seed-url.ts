import { BlockList, isIP } from 'node:net'
import type { TorrentFileEntry, TorrentMeta } from './metainfo.js'

/** The longest web seed URL considered (a .torrent is hostile input). */
const MAX_URL_LENGTH = 2048

/** A web seed URL from a .torrent or a magnet, checked: usable, or why not. */
export type WebSeedUrl = { readonly url: URL } | { readonly refused: string }

/** Only plain http(s) URLs are web seeds (BEP 19); anything else (ftp:, file:, javascript:) is refused with why. */
export function checkWebSeedUrl (text: string): WebSeedUrl {
  if (text.length > MAX_URL_LENGTH) return { refused: `URL longer than ${MAX_URL_LENGTH} characters` }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return { refused: 'not a valid URL' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { refused: `${url.protocol} is not http or https` }
  return { url }
}

/**
 * Where a file of the torrent is on the web seed (BEP 19): a single-file torrent's URL is the
 * file itself; a multi-file torrent's URL is a folder, followed by the torrent's name and the
 * file's path, each component percent-encoded. A URL ending in '/' for a single file gets the
 * name, as libtorrent does.
 */
export function fileUrl (base: URL, meta: Pick<TorrentMeta, 'files'>, file: TorrentFileEntry): URL {
  const single = meta.files.length === 1 && !file.path.includes('/')
  if (single && !base.pathname.endsWith('/')) return base
  // The path goes before any '?': a URL with a query keeps it after the path.
  const url = new URL(base.href)
  const folder = base.pathname.endsWith('/') ? base.pathname : base.pathname + '/'
  url.pathname = folder + file.path.split('/').map((component) => encodeURIComponent(component)).join('/')
  return url
}

/** One file's part of a byte range of the torrent: where it is in the file, and where it goes in the buffer. */
export interface FileRange {
  readonly file: number
  readonly position: number
  readonly length: number
  readonly bufferOffset: number
}

/** The files that hold the torrent's bytes [start, start + length), in order; empty files are skipped. */
export function fileRanges (files: readonly TorrentFileEntry[], start: number, length: number): FileRange[] {
  const ranges: FileRange[] = []
  const end = start + length
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!
    const from = Math.max(start, file.offset)
    const to = Math.min(end, file.offset + file.length)
    if (to <= from) continue
    ranges.push({ file: i, position: from - file.offset, length: to - from, bufferOffset: from - start })
  }
  return ranges
}

/** Addresses a web seed from the network may not name unless the user allows it: this machine and private networks. */
const PRIVATE = new BlockList()
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4')
}
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6')
}

/** Loopback, private, link-local, shared, multicast or unspecified (an IPv4-mapped IPv6 address is judged as its IPv4). */
export function isPrivateAddress (address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1]
  if (mapped) return PRIVATE.check(mapped, 'ipv4')
  const family = isIP(address)
  if (family === 0) return true
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6')
}
