import bencode from 'bencode'
import parseTorrent, { toMagnetURI, toTorrentFile, type ParsedTorrent } from 'parse-torrent'
import { InvalidTorrentError, errorMessage } from '../util/errors.js'

export interface TorrentFileEntry {
  /** Path relative to the download directory, components joined with '/'. */
  readonly path: string
  readonly length: number
  /** Offset of the file's first byte in the torrent's byte stream. */
  readonly offset: number
  /**
   * A pad file (BEP 47): zeros that align the next file to a piece boundary. It is never created,
   * read or written; its bytes are zeros in memory.
   */
  readonly pad: boolean
}

/** Everything the engine needs to know about a torrent's content. */
export interface TorrentMeta {
  readonly infoHash: string
  readonly name: string
  readonly pieceLength: number
  readonly length: number
  readonly pieceCount: number
  /** SHA-1 piece hashes, 20 bytes each, concatenated. */
  readonly pieceHashes: Buffer
  readonly files: readonly TorrentFileEntry[]
  readonly announce: readonly string[]
  /** BEP 19 web seeds (`url-list`), as the torrent gives them: web-seed-url.ts decides which are usable. */
  readonly webSeeds: readonly string[]
  readonly private: boolean
  /** The whole .torrent file, bencoded. */
  readonly torrentFile: Buffer
  /** The bencoded info dictionary (served to peers through ut_metadata). */
  readonly infoBuffer: Buffer
}

/** What a magnet link gives before the metadata arrives. */
export interface MagnetInfo {
  readonly infoHash: string
  readonly name?: string
  readonly announce: readonly string[]
  /** BEP 19 web seeds (`ws=`). */
  readonly webSeeds: readonly string[]
  readonly peerAddresses: readonly string[]
}

const MAX_TORRENT_FILE_BYTES = 50 * 1024 * 1024
const MAX_PIECE_LENGTH = 64 * 1024 * 1024
const INFO_HASH_V1 = /^[0-9a-f]{40}$/

export function pieceLengthOf (meta: Pick<TorrentMeta, 'pieceLength' | 'length' | 'pieceCount'>, index: number): number {
  if (index === meta.pieceCount - 1) return meta.length - meta.pieceLength * (meta.pieceCount - 1)
  return meta.pieceLength
}

export async function parseTorrentFile (data: Uint8Array): Promise<TorrentMeta> {
  if (data.length > MAX_TORRENT_FILE_BYTES) throw new InvalidTorrentError('torrent file is larger than 50 MiB')
  if (data[0] !== 0x64) throw new InvalidTorrentError('not a .torrent file (it must start with a bencoded dictionary)')
  let parsed: ParsedTorrent
  try {
    parsed = await parseTorrent(data)
  } catch (err) {
    const repaired = withUsableUrlList(data)
    if (repaired) return parseTorrentFile(repaired)
    throw new InvalidTorrentError(`not a valid .torrent file: ${errorMessage(err)}`, { cause: err })
  }
  if (!parsed.info || !parsed.infoBuffer) throw new InvalidTorrentError('not a valid .torrent file: no info dictionary')
  return metaFromParsed(parsed)
}

/** Builds the metadata fetched from peers (BEP 9: ut_metadata hands over `{ info }`), adding the magnet's trackers and web seeds. */
export async function metaFromPeers (torrent: Uint8Array, announce: readonly string[], webSeeds: readonly string[] = []): Promise<TorrentMeta> {
  let decoded: { info?: unknown }
  try {
    decoded = bencode.decode(torrent) as { info?: unknown }
  } catch (err) {
    throw new InvalidTorrentError(`peers sent metadata that is not bencoded: ${errorMessage(err)}`, { cause: err })
  }
  return parseTorrentFile(bencode.encode({
    info: decoded.info,
    announce: announce[0],
    'announce-list': announce.map((url) => [url]),
    ...(webSeeds.length > 0 ? { 'url-list': [...webSeeds] } : {})
  }))
}

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
  let parsed: ParsedTorrent
  try {
    parsed = await parseTorrent(uri)
  } catch (err) {
    throw new InvalidTorrentError(`malformed magnet link: ${errorMessage(err)}`, { cause: err })
  }
  const infoHash = parsed.infoHash?.toLowerCase()
  if (!infoHash || !INFO_HASH_V1.test(infoHash)) {
    throw new InvalidTorrentError('malformed magnet link: it carries no valid btih info hash')
  }
  return {
    infoHash,
    ...(parsed.name ? { name: String(parsed.name) } : {}),
    announce: parsed.announce ?? [],
    // Only `ws`: parse-torrent's urlList mixes in `as` (a whole-file download, not a BEP 19 web seed).
    webSeeds: [...new Set(query.getAll('ws'))],
    peerAddresses: parsed.peerAddresses ?? []
  }
}

export function magnetLink (meta: Pick<TorrentMeta, 'infoHash' | 'name' | 'announce' | 'webSeeds'>): string {
  return toMagnetURI({ infoHash: meta.infoHash, name: meta.name, announce: [...meta.announce], urlList: [...meta.webSeeds] })
}

function metaFromParsed (parsed: ParsedTorrent): TorrentMeta {
  const info = parsed.info as Record<string, unknown>
  const pieceLength = parsed.pieceLength ?? 0
  const length = parsed.length ?? 0
  const pieces = parsed.pieces ?? []
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0 || pieceLength > MAX_PIECE_LENGTH) {
    throw new InvalidTorrentError(`invalid piece length ${pieceLength}`)
  }
  if (!Number.isSafeInteger(length) || length <= 0) throw new InvalidTorrentError('torrent has no content')
  const pieceCount = Math.ceil(length / pieceLength)
  if (pieces.length !== pieceCount) {
    throw new InvalidTorrentError(`torrent lists ${pieces.length} piece hashes for ${pieceCount} pieces`)
  }
  const name = decodeComponent(info.name, 'name')
  const files = safeFileList(info, name)
  return {
    infoHash: parsed.infoHash.toLowerCase(),
    name,
    pieceLength,
    length,
    pieceCount,
    pieceHashes: Buffer.from(pieces.join(''), 'hex'),
    files,
    announce: parsed.announce ?? [],
    webSeeds: parsed.urlList ?? [],
    private: parsed.private ?? false,
    torrentFile: Buffer.from(toTorrentFile(parsed)),
    infoBuffer: Buffer.from(parsed.infoBuffer!)
  }
}

/**
 * A `url-list` that is neither a string nor a list of strings (a number, nested lists) makes the
 * parser throw; it lies outside the info dictionary, so, as libtorrent does, only the strings in
 * it are kept and the torrent stays usable. Undefined when that is not what failed.
 */
function withUsableUrlList (data: Uint8Array): Uint8Array | undefined {
  let decoded: Record<string, unknown>
  try {
    decoded = bencode.decode(data) as Record<string, unknown>
  } catch {
    return undefined
  }
  const list = decoded['url-list']
  if (list === undefined || list instanceof Uint8Array) return undefined
  if (Array.isArray(list) && list.every((url) => url instanceof Uint8Array)) return undefined
  const urls = Array.isArray(list) ? list.filter((url) => url instanceof Uint8Array) : []
  return bencode.encode({ ...decoded, 'url-list': urls })
}

/**
 * Paths come from strangers: every component must be a plain name, so no torrent can write outside
 * its download directory (no '..', no separators, no absolute paths, no NUL bytes).
 */
function safeFileList (info: Record<string, unknown>, name: string): TorrentFileEntry[] {
  const rawFiles = info.files
  if (rawFiles === undefined) {
    const length = Number(info.length)
    return [{ path: name, length, offset: 0, pad: false }]
  }
  if (!Array.isArray(rawFiles) || rawFiles.length === 0) throw new InvalidTorrentError('info.files is empty')
  let offset = 0
  const seen = new Set<string>()
  return rawFiles.map((raw: unknown, i) => {
    const file = raw as Record<string, unknown>
    const rawPath = file['path.utf-8'] ?? file.path
    if (!Array.isArray(rawPath) || rawPath.length === 0) throw new InvalidTorrentError(`info.files[${i}].path is missing`)
    const components = rawPath.map((part: unknown) => decodeComponent(part, `info.files[${i}].path`))
    const length = Number(file.length)
    if (!Number.isSafeInteger(length) || length < 0) throw new InvalidTorrentError(`info.files[${i}].length is invalid`)
    const path = [name, ...components].join('/')
    const pad = isPadFile(file.attr, components)
    // Pad files of one length share one path ('.pad/N'): only real files must be unique.
    if (!pad && seen.has(path)) throw new InvalidTorrentError(`duplicate file path "${path}"`)
    if (!pad) seen.add(path)
    const entry = { path, length, offset, pad }
    offset += length
    return entry
  })
}

/**
 * As libtorrent reads them: the BEP 47 attribute 'p', or BitComet's older convention of a name
 * holding '_____padding_file_' (no attribute). A '.pad/N' path alone makes no pad file.
 */
function isPadFile (attr: unknown, components: readonly string[]): boolean {
  const flags = attr instanceof Uint8Array ? Buffer.from(attr).toString('latin1') : typeof attr === 'string' ? attr : ''
  return flags.includes('p') || components.some((part) => part.includes('_____padding_file_'))
}

function decodeComponent (value: unknown, field: string): string {
  const text = value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : typeof value === 'string' ? value : undefined
  if (text === undefined || text === '' || text === '.' || text === '..' || /[/\\\0]/.test(text)) {
    throw new InvalidTorrentError(`unsafe or missing path component in ${field}`)
  }
  return text
}
