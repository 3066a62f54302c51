import parseTorrent, { toMagnetURI, type ParsedTorrent } from 'parse-torrent'
import { InvalidTorrentError, errorMessage } from '../util/errors.js'
import { INFO_HASH_V1, type MagnetInfo, type TorrentMeta } from './metainfo.js'

/** Magnet links (BEP 9, and BEP 52's btmh topics): read them, and write a torrent's. */

export async function parseMagnet (uri: string): Promise<MagnetInfo> {
  if (!/^magnet:\?/i.test(uri)) throw new InvalidTorrentError('not a magnet link (it must start with "magnet:?")')
  // parse-torrent reads a btih of the wrong length as some other hash (39 hex digits became 000…0).
  const query = new URLSearchParams(uri.slice(uri.indexOf('?') + 1))
  const topics = query.getAll('xt')
  for (const topic of topics) {
    const btih = /^urn:btih:(.*)$/i.exec(topic)?.[1]
    if (btih !== undefined && !/^([0-9a-f]{40}|[a-z2-7]{32})$/i.test(btih)) {
      throw new InvalidTorrentError(`malformed magnet link: the btih info hash "${btih}" is not 40 hex digits (or 32 base32 characters)`)
    }
  }
  const infoHashV2 = btmhOf(topics)
  const hasBtih = topics.some((topic) => /^urn:btih:/i.test(topic))
  let parsed: ParsedTorrent
  try {
    // parse-torrent wants a btih: a v2-only magnet is looked up by its truncated v2 hash (BEP 52).
    parsed = await parseTorrent(infoHashV2 && !hasBtih ? `${uri}&xt=urn:btih:${infoHashV2.slice(0, 40)}` : uri)
  } catch (err) {
    throw new InvalidTorrentError(`malformed magnet link: ${errorMessage(err)}`, { cause: err })
  }
  const infoHash = parsed.infoHash?.toLowerCase()
  if (!infoHash || !INFO_HASH_V1.test(infoHash)) {
    throw new InvalidTorrentError('malformed magnet link: it carries no valid btih or btmh info hash')
  }
  return {
    infoHash,
    ...(infoHashV2 ? { infoHashV2 } : {}),
    ...(parsed.name ? { name: String(parsed.name) } : {}),
    announce: parsed.announce ?? [],
    // Only `ws`: parse-torrent's urlList mixes in `as` (a whole-file download, not a BEP 19 web seed).
    webSeeds: [...new Set(query.getAll('ws'))],
    peerAddresses: parsed.peerAddresses ?? []
  }
}

/** The SHA-256 info hash of a `btmh` topic (multihash 0x12 0x20: SHA-256, 32 bytes), if the magnet has one. */
function btmhOf (topics: readonly string[]): string | undefined {
  let found: string | undefined
  for (const topic of topics) {
    const btmh = /^urn:btmh:(.*)$/i.exec(topic)?.[1]
    if (btmh === undefined) continue
    if (!/^1220[0-9a-f]{64}$/i.test(btmh)) throw new InvalidTorrentError(`malformed magnet link: the btmh "${btmh}" is not a SHA-256 multihash (1220 and 64 hex digits)`)
    found = btmh.slice(4).toLowerCase()
  }
  return found
}

export function magnetLink (meta: Pick<TorrentMeta, 'infoHash' | 'name' | 'announce' | 'webSeeds' | 'v2'>): string {
  const v2 = meta.v2
  if (!v2) return toMagnetURI({ infoHash: meta.infoHash, name: meta.name, announce: [...meta.announce], urlList: [...meta.webSeeds] })
  const topics = [...(v2.hybrid ? [`xt=urn:btih:${meta.infoHash}`] : []), `xt=urn:btmh:1220${v2.infoHash}`]
  const rest = [`dn=${encodeURIComponent(meta.name)}`, ...meta.announce.map((url) => `tr=${encodeURIComponent(url)}`), ...meta.webSeeds.map((url) => `ws=${encodeURIComponent(url)}`)]
  return `magnet:?${[...topics, ...rest].join('&')}`
}
