import bencode from 'bencode'
import parseTorrent, { toTorrentFile, type ParsedTorrent } from 'parse-torrent'
import { InvalidTorrentError, errorMessage } from '../util/errors.js'
import { decodeComponent } from './torrent-paths.js'
import { bdecode, topLevelSpans, type BDict } from './v2/bdecode.js'
import { isV2Info, layersNeeded, parseV2, type V2File, type V2Meta } from './v2/metainfo-v2.js'

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
  /** SHA-1 piece hashes, 20 bytes each, concatenated (empty for a v2-only torrent). */
  readonly pieceHashes: Buffer
  /**
   * The content's files, pad files (BEP 47: zeros, never on disk) among them. In a v2 or hybrid
   * torrent each file starts at a piece boundary: a hybrid's v1 half lists its pads, a v2-only
   * torrent's implied alignment is made explicit as pad files here (withPads).
   */
  readonly files: readonly TorrentFileEntry[]
  readonly announce: readonly string[]
  /** BEP 19 web seeds (`url-list`), as the torrent gives them: web-seed-url.ts decides which are usable. */
  readonly webSeeds: readonly string[]
  readonly private: boolean
  /** The whole .torrent file, bencoded. */
  readonly torrentFile: Buffer
  /** The bencoded info dictionary (served to peers through ut_metadata). */
  readonly infoBuffer: Buffer
  /** BEP 52's half, for a v2-only or hybrid torrent: its pieces are checked by merkle roots. */
  readonly v2?: V2Meta
}

/**
 * The 20-byte hashes of the swarms a torrent is in (handshakes, trackers, the DHT): its info hash,
 * and for a hybrid the truncated v2 hash as well, the swarm of v2-only peers.
 */
export function swarmHashes (torrent: Pick<TorrentMeta, 'infoHash' | 'v2'> | Pick<MagnetInfo, 'infoHash' | 'infoHashV2'>): string[] {
  const v2 = 'v2' in torrent ? torrent.v2?.infoHash : 'infoHashV2' in torrent ? torrent.infoHashV2 : undefined
  const truncated = v2?.slice(0, 40)
  return truncated && truncated !== torrent.infoHash ? [torrent.infoHash, truncated] : [torrent.infoHash]
}

export type TorrentVersion = 'v1' | 'v2' | 'hybrid'

export function versionOf (meta: Pick<TorrentMeta, 'v2'>): TorrentVersion {
  return meta.v2 ? (meta.v2.hybrid ? 'hybrid' : 'v2') : 'v1'
}

/** What a magnet link gives before the metadata arrives. */
export interface MagnetInfo {
  readonly infoHash: string
  /** A `btmh` topic's SHA-256 info hash (64 hex digits): the torrent is v2 (or, with a btih as well, hybrid). */
  readonly infoHashV2?: string
  readonly name?: string
  readonly announce: readonly string[]
  /** BEP 19 web seeds (`ws=`). */
  readonly webSeeds: readonly string[]
  readonly peerAddresses: readonly string[]
}

/** The largest .torrent read, from a file, the watch folder or a URL. */
export const MAX_TORRENT_FILE_BYTES = 50 * 1024 * 1024
const MAX_PIECE_LENGTH = 64 * 1024 * 1024
export const INFO_HASH_V1 = /^[0-9a-f]{40}$/

export function pieceLengthOf (meta: Pick<TorrentMeta, 'pieceLength' | 'length' | 'pieceCount'>, index: number): number {
  if (index === meta.pieceCount - 1) return meta.length - meta.pieceLength * (meta.pieceCount - 1)
  return meta.pieceLength
}

/**
 * The bytes of a piece that a v2 merkle root covers: a v2 piece ends with its file (the pad after
 * it is not hashed); a v1 piece is hashed whole, pads included.
 */
export function pieceDataLength (meta: Pick<TorrentMeta, 'pieceLength' | 'length' | 'pieceCount' | 'v2'>, index: number): number {
  return meta.v2 ? meta.v2.pieceData[index]! : pieceLengthOf(meta, index)
}

export async function parseTorrentFile (data: Uint8Array): Promise<TorrentMeta> {
  if (data.length > MAX_TORRENT_FILE_BYTES) throw new InvalidTorrentError('torrent file is larger than 50 MiB')
  if (data[0] !== 0x64) throw new InvalidTorrentError('not a .torrent file (it must start with a bencoded dictionary)')
  const v2 = v2Parts(Buffer.from(data))
  if (v2 && !v2.info.has('pieces')) return v2OnlyMeta(Buffer.from(data), v2)
  let parsed: ParsedTorrent
  try {
    parsed = await parseTorrent(data)
  } catch (err) {
    const repaired = withUsableUrlList(data)
    if (repaired) return parseTorrentFile(repaired)
    throw new InvalidTorrentError(`not a valid .torrent file: ${errorMessage(err)}`, { cause: err })
  }
  if (!parsed.info || !parsed.infoBuffer) throw new InvalidTorrentError('not a valid .torrent file: no info dictionary')
  const meta = metaFromParsed(parsed)
  // A hybrid's metadata from peers comes without piece layers (they travel in hash messages, not
  // yet asked for): its v1 half alone is a complete torrent.
  if (!v2 || !v2.spans.has('piece layers')) return meta
  return hybridMeta(meta, Buffer.from(data), v2)
}

interface V2Parts {
  readonly info: BDict
  readonly infoBytes: Buffer
  readonly spans: Map<string, Buffer>
}

/** The info dictionary as sent (its bytes are what the v2 info hash is of), when it says `meta version` 2. */
function v2Parts (data: Buffer): V2Parts | undefined {
  let spans: Map<string, Buffer>
  try {
    spans = topLevelSpans(data)
  } catch {
    return undefined // not for v2 to judge: the v1 parser says what is wrong with it
  }
  const infoBytes = spans.get('info')
  if (!infoBytes) return undefined
  const info = bdecode(infoBytes)
  if (!(info instanceof Map) || !isV2Info(info)) return undefined
  return { info, infoBytes, spans }
}

function v2OnlyMeta (data: Buffer, { info, infoBytes, spans }: V2Parts): TorrentMeta {
  const name = decodeComponent(info.get('name.utf-8') ?? info.get('name'), 'name')
  const layers = spans.get('piece layers')
  const v2 = parseV2(info, infoBytes, name, layers ? bdecode(layers) : undefined)
  const pieceLength = info.get('piece length') as number
  const announce = announceOf(data)
  return {
    infoHash: v2.infoHash.slice(0, 40),
    name,
    pieceLength,
    length: v2.length,
    pieceCount: v2.pieceData.length,
    pieceHashes: Buffer.alloc(0),
    files: withPads(v2.files, name, pieceLength),
    announce,
    webSeeds: webSeedsOf(data),
    private: info.get('private') === 1,
    torrentFile: data,
    infoBuffer: Buffer.from(infoBytes),
    v2
  }
}

/**
 * A hybrid is read as v1 (its info hash and trackers unchanged), then its v2 half must describe
 * the same files at the same offsets; the pad files of its v1 list hold no data and are dropped.
 */
function hybridMeta (meta: TorrentMeta, data: Buffer, { info, infoBytes, spans }: V2Parts): TorrentMeta {
  const layers = spans.get('piece layers')
  const v2 = parseV2(info, infoBytes, meta.name, layers ? bdecode(layers) : undefined)
  const v1Files = meta.files.filter((file) => !file.pad)
  const same = v1Files.length === v2.files.length && v2.files.every((file, i) => {
    const other = v1Files[i]!
    return other.path === file.path && other.length === file.length && (file.length === 0 || other.offset === file.offset)
  })
  if (!same || v2.pieceData.length !== meta.pieceCount) throw new InvalidTorrentError('the hybrid torrent\'s v1 and v2 halves describe different files')
  return { ...meta, torrentFile: data, v2 }
}

/** A v2-only torrent's files with the alignment BEP 52 implies made explicit: a pad file (zeros, never on disk) after each file that ends mid-piece. */
function withPads (files: readonly V2File[], name: string, pieceLength: number): TorrentFileEntry[] {
  const entries: TorrentFileEntry[] = []
  for (const { path, length, offset } of files) {
    entries.push({ path, length, offset, pad: false })
    const pad = (pieceLength - (length % pieceLength)) % pieceLength
    if (length > 0 && pad > 0) entries.push({ path: `${name}/.pad/${pad}`, length: pad, offset: offset + length, pad: true })
  }
  return entries
}

/** A v2-only torrent's `url-list` (a string or a list), strings only, as the v1 parser keeps them. */
function webSeedsOf (data: Buffer): string[] {
  const list = (bencode.decode(data) as { 'url-list'?: unknown })['url-list']
  const entries = Array.isArray(list) ? list : [list]
  return [...new Set(entries.filter((url): url is Uint8Array => url instanceof Uint8Array).map((url) => Buffer.from(url).toString('utf8')))]
}

function announceOf (data: Buffer): string[] {
  const decoded = bencode.decode(data) as { announce?: Uint8Array, 'announce-list'?: Uint8Array[][] }
  const urls = new Set<string>()
  for (const tier of decoded['announce-list'] ?? []) for (const url of tier) urls.add(Buffer.from(url).toString('utf8'))
  if (decoded.announce) urls.add(Buffer.from(decoded.announce).toString('utf8'))
  return [...urls]
}

/** Fetches piece layers from peers (BEP 52 hash requests), keyed by pieces root as latin1 strings. */
export type LayerFetcher = (needed: ReturnType<typeof layersNeeded>, pieceLength: number) => Promise<Map<string, Buffer>>

/**
 * Builds the metadata fetched from peers (BEP 9: ut_metadata hands over `{ info }`), adding the
 * magnet's trackers and web seeds. A v2-only info dictionary comes without its piece layers:
 * `fetchLayers` asks peers for them (each proven against its pieces root), and parsing checks them
 * once more.
 */
export async function metaFromPeers (torrent: Uint8Array, announce: readonly string[], webSeeds: readonly string[] = [], fetchLayers?: LayerFetcher): Promise<TorrentMeta> {
  const raw = Buffer.from(torrent)
  const v2 = v2Parts(raw)
  if (v2 && !v2.info.has('pieces')) {
    const needed = layersNeeded(v2.info)
    if (needed.length > 0 && !fetchLayers) throw new InvalidTorrentError('a v2 torrent\'s piece layers are needed')
    const layers = needed.length > 0 ? await fetchLayers!(needed, v2.info.get('piece length') as number) : new Map<string, Buffer>()
    return parseTorrentFile(rawTorrent(announce, webSeeds, v2.infoBytes, layers))
  }
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

/** A .torrent around an info dictionary kept as it was sent (its bytes are the v2 info hash's), with piece layers. */
function rawTorrent (announce: readonly string[], webSeeds: readonly string[], infoBytes: Buffer, layers: Map<string, Buffer>): Buffer {
  const trackers = Buffer.from(bencode.encode(announce.length > 0 ? { announce: announce[0], 'announce-list': announce.map((url) => [url]) } : {}))
  const parts: Uint8Array[] = [trackers.subarray(0, -1), Buffer.from('4:info'), infoBytes, Buffer.from('12:piece layersd')]
  for (const key of [...layers.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')))) {
    const layer = layers.get(key)!
    parts.push(Buffer.from(`${key.length}:`), Buffer.from(key, 'latin1'), Buffer.from(`${layer.length}:`), layer)
  }
  parts.push(Buffer.from('e'))
  // 'url-list' sorts after 'piece layers': it ends the dictionary.
  if (webSeeds.length > 0) parts.push(Buffer.from('8:url-list'), Buffer.from(bencode.encode([...webSeeds])))
  parts.push(Buffer.from('e'))
  return Buffer.concat(parts)
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
