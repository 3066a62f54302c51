import { statfs } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import { MAX_TORRENT_FILE_BYTES } from '../../engine/metainfo.js'
import { errorMessage } from '../../util/errors.js'
import { addRequestSchema, bidRequestSchema, floorRequestSchema, parseInput, type FilesRequest } from '../api-schemas.js'
import type { TorrentView, VoucherTotals } from '../api-types.js'
import type { SessionSettings } from '../session-settings.js'
import type { TorrentService } from '../torrent-service.js'
import { pickFields, torrentFields } from './fields.js'
import { TORRENT_LIMIT_KEYS, sessionLimitFields, sessionSet, torrentLimitChange } from './limits.js'

/** The RPC version this answers as: Transmission 3.00's (16), and the oldest it still serves. */
export const RPC_VERSION = 16
export const RPC_VERSION_MINIMUM = 14

export interface RpcContext {
  readonly torrents: TorrentService
  readonly version: string
  readonly sessionId: () => string
  readonly peerPort: () => number
  /** The settings session-set changes (and session-get reads: the download folder, the limits). */
  readonly session: SessionSettings
  readonly configDir: string
  /** What peers paid for each torrent (the stored vouchers); absent when the market is off. */
  readonly earnings?: (() => Promise<VoucherTotals>) | undefined
}

type Arguments = Record<string, unknown>

/** An error the RPC reports in its `result` string, as Transmission does (the HTTP status stays 200). */
export class RpcError extends Error {}

/**
 * Transmission's numbers for torrents: given in the order torrents are first seen, kept for the
 * daemon's run (Transmission's ids last a session too; hashes work everywhere an id does).
 */
export class TorrentIds {
  private readonly byHash = new Map<string, number>()
  private next = 1

  of (infoHash: string): number {
    let id = this.byHash.get(infoHash)
    if (id === undefined) {
      id = this.next++
      this.byHash.set(infoHash, id)
    }
    return id
  }

  /** The torrents `ids` names: all when absent; numbers, hashes or a list of them. */
  select (views: readonly TorrentView[], ids: unknown): TorrentView[] {
    for (const view of views) this.of(view.infoHash)
    if (ids === undefined) return [...views]
    if (ids === 'recently-active') return views.filter((view) => view.downloadRate > 0 || view.uploadRate > 0)
    const wanted = Array.isArray(ids) ? ids : [ids]
    return views.filter((view) => wanted.some((id) => id === this.of(view.infoHash) || (typeof id === 'string' && id.toLowerCase() === view.infoHash)))
  }
}

function stringList (value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new RpcError(`${name} must be a list of strings`)
  return value
}

/** Transmission's speed limits are in kB/s (1000 bytes, its "speed-bytes"). */
function kiloBytes (value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new RpcError(`${name} must be a number of kB/s`)
  return Math.round(value * 1000)
}

async function torrentFileFrom (url: string): Promise<Buffer> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000), redirect: 'follow' })
  if (!response.ok) throw new RpcError(`${url} answered HTTP ${response.status}`)
  const declared = Number(response.headers.get('content-length') ?? 0)
  if (declared > MAX_TORRENT_FILE_BYTES) throw new RpcError(`${url} is larger than 50 MiB`)
  const body = Buffer.from(await response.arrayBuffer())
  if (body.length > MAX_TORRENT_FILE_BYTES) throw new RpcError(`${url} is larger than 50 MiB`)
  return body
}

const FILE_KEYS = ['files-wanted', 'files-unwanted', 'priority-high', 'priority-normal', 'priority-low'] as const
const SET_KEYS = new Set<string>(['ids', 'uploadLimited', 'downloadLimited', ...FILE_KEYS, ...TORRENT_LIMIT_KEYS])

function fileIndexes (value: unknown, name: string, count: number): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((index) => Number.isInteger(index) && index >= 0 && index < count)) {
    throw new RpcError(`${name} must list file numbers from 0 to ${count - 1}`)
  }
  return value.map(String)
}

/**
 * Transmission's file changes as a file selection: a wanted file that was skipped comes back at
 * normal priority (one already wanted keeps its own), an unwanted one is skipped, and the
 * priority lists set levels. Undefined when the call changes no file.
 */
function fileChange (view: TorrentView, args: Arguments): FilesRequest | undefined {
  const count = view.files.length
  const [wanted, unwanted, high, normal, low] = FILE_KEYS.map((key) => fileIndexes(args[key], key, count))
  const revived = wanted!.filter((index) => view.files[Number(index)]!.priority === 'skip')
  const change = { skip: unwanted!, priority: { high: high!, normal: [...normal!, ...revived], low: low! } }
  return [change.skip, high, change.priority.normal, low].some((list) => list!.length > 0) ? change : undefined
}

/** The methods of Transmission's RPC that bidtorrent answers, over its own torrent service. */
export class RpcMethods {
  readonly ids = new TorrentIds()

  constructor (private readonly context: RpcContext) {}

  async call (method: string, args: Arguments): Promise<Arguments> {
    switch (method) {
      case 'session-get': return this.sessionGet(args)
      case 'session-set': return await sessionSet(this.context.session, args).then(() => ({}))
      case 'session-stats': return this.sessionStats()
      case 'torrent-get': return await this.torrentGet(args)
      case 'torrent-add': return await this.torrentAdd(args)
      case 'torrent-start':
      case 'torrent-start-now': return await this.each(args, (view) => this.context.torrents.resume(view.infoHash))
      case 'torrent-stop': return await this.each(args, (view) => this.context.torrents.pause(view.infoHash))
      case 'torrent-verify': return await this.each(args, (view) => Promise.resolve(this.context.torrents.verify(view.infoHash)))
      case 'torrent-reannounce': return await this.each(args, (view) => Promise.resolve(this.context.torrents.reannounce(view.infoHash)))
      case 'torrent-set-location': return await this.setLocation(args)
      case 'torrent-remove': return await this.each(args, (view) => this.context.torrents.remove(view.infoHash, args['delete-local-data'] === true))
      case 'torrent-set': return await this.torrentSet(args)
      case 'free-space': return await this.freeSpace(args)
      case 'bidtorrent-set-bid': return await this.setBid(args)
      case 'bidtorrent-set-floor': return await this.setFloor(args)
      default: throw new RpcError(`method name not recognized: ${method}`)
    }
  }

  private sessionGet (args: Arguments): Arguments {
    const { context } = this
    const all: Arguments = {
      version: context.version,
      'rpc-version': RPC_VERSION,
      'rpc-version-minimum': RPC_VERSION_MINIMUM,
      'session-id': context.sessionId(),
      'config-dir': context.configDir,
      'peer-port': context.peerPort(),
      'start-added-torrents': true,
      'rename-partial-files': false,
      'incomplete-dir-enabled': false,
      'download-queue-enabled': false,
      'seed-queue-enabled': false,
      ...sessionLimitFields(context.session),
      'blocklist-enabled': false,
      // Transmission's web client reads these numbers without checking they are there (the speed
      // limits come with the session's limits above).
      'blocklist-size': 0,
      'alt-speed-down': 0,
      'alt-speed-up': 0,
      units: {
        'speed-units': ['kB/s', 'MB/s', 'GB/s', 'TB/s'],
        'speed-bytes': 1000,
        'size-units': ['kB', 'MB', 'GB', 'TB'],
        'size-bytes': 1000,
        'memory-units': ['KiB', 'MiB', 'GiB', 'TiB'],
        'memory-bytes': 1024
      }
    }
    return args.fields === undefined ? all : pickFields(all, stringList(args.fields, 'fields'))
  }

  private sessionStats (): Arguments {
    const views = this.context.torrents.list()
    const downloaded = views.reduce((sum, view) => sum + view.downloaded, 0)
    const uploaded = views.reduce((sum, view) => sum + view.uploaded, 0)
    const stats = { uploadedBytes: uploaded, downloadedBytes: downloaded, filesAdded: views.length, sessionCount: 1, secondsActive: Math.round(process.uptime()) }
    return {
      activeTorrentCount: views.filter((view) => view.state === 'downloading' || view.state === 'seeding').length,
      pausedTorrentCount: views.filter((view) => view.state === 'paused').length,
      torrentCount: views.length,
      downloadSpeed: views.reduce((sum, view) => sum + view.downloadRate, 0),
      uploadSpeed: views.reduce((sum, view) => sum + view.uploadRate, 0),
      'current-stats': stats,
      'cumulative-stats': stats
    }
  }

  private async torrentGet (args: Arguments): Promise<Arguments> {
    const fields = stringList(args.fields, 'fields')
    const { torrents, earnings } = this.context
    const selected = this.ids.select(torrents.list(), args.ids)
    const earned = fields.includes('bidtorrent-earned') && earnings ? new Map((await earnings()).torrents.map((row) => [row.infoHash, row.total])) : undefined
    const rows = selected.map((view) => pickFields(torrentFields(view, {
      id: this.ids.of(view.infoHash),
      earned: earned?.get(view.infoHash) ?? '0',
      peers: fields.includes('peers') || fields.some((field) => field.startsWith('peers')) ? torrents.peers(view.infoHash) : [],
      addedAt: view.startedAt
    }), fields))
    return { torrents: rows, ...(args.ids === 'recently-active' ? { removed: [] } : {}) }
  }

  private async torrentAdd (args: Arguments): Promise<Arguments> {
    const directory = args['download-dir']
    if (directory !== undefined && (typeof directory !== 'string' || !isAbsolute(directory))) throw new RpcError('download-dir must be an absolute path')
    const source = await this.sourceOf(args)
    const before = new Set(this.context.torrents.list().map((view) => view.infoHash))
    const view = await this.context.torrents.add(parseInput(addRequestSchema, {
      ...source,
      ...(directory !== undefined ? { directory } : {}),
      ...(args.labels !== undefined ? { labels: args.labels } : {}),
      paused: args.paused === true
    }))
    const summary = { id: this.ids.of(view.infoHash), name: view.name, hashString: view.infoHash }
    return before.has(view.infoHash) ? { 'torrent-duplicate': summary } : { 'torrent-added': summary }
  }

  private async sourceOf (args: Arguments): Promise<{ torrent: string } | { magnet: string }> {
    if (typeof args.metainfo === 'string') return { torrent: args.metainfo }
    const filename = args.filename
    if (typeof filename !== 'string') throw new RpcError('torrent-add needs "filename" (a magnet link or an http(s) URL) or "metainfo" (base64)')
    if (filename.startsWith('magnet:')) return { magnet: filename }
    if (/^https?:\/\//i.test(filename)) return { torrent: (await torrentFileFrom(filename)).toString('base64') }
    throw new RpcError('filename must be a magnet link or an http(s) URL (send a local file as "metainfo")')
  }

  private async torrentSet (args: Arguments): Promise<Arguments> {
    const limits: { uploadLimit?: number, downloadLimit?: number } = {}
    for (const key of Object.keys(args)) {
      if (key === 'uploadLimit') limits.uploadLimit = kiloBytes(args[key], key)
      else if (key === 'downloadLimit') limits.downloadLimit = kiloBytes(args[key], key)
      else if (!SET_KEYS.has(key)) throw new RpcError(`torrent-set: "${key}" is not supported by bidtorrent`)
    }
    // Transmission keeps a limit's value apart from whether it applies; here 0 is no limit.
    if (args.uploadLimited === false) limits.uploadLimit = 0
    if (args.downloadLimited === false) limits.downloadLimit = 0
    const { torrents } = this.context
    return await this.each(args, async (view) => {
      const torrent = torrents.find(view.infoHash)
      if (Object.keys(limits).length > 0) await torrents.setLimits(torrent, limits)
      const selection = fileChange(view, args)
      if (selection) await torrents.setFiles(torrent, selection)
      const options = torrentLimitChange(view, args)
      if (options) await torrents.setOptions(torrent, options)
    })
  }

  /** bidtorrent's own: a torrent's bid (`bid`, a price as `bid` takes it: "50BTT/MiB", "0" withdraws it) and `budget` ("100000BTT"). */
  private async setBid (args: Arguments): Promise<Arguments> {
    const { torrents } = this.context
    const body = parseInput(bidRequestSchema, { price: args.bid, ...(args.budget !== undefined ? { budget: args.budget } : {}) })
    return await this.each(args, (view) => torrents.setBid(torrents.find(view.infoHash), body))
  }

  /** bidtorrent's own: a torrent's floor (`floor`, a price; null: the daemon's default). */
  private async setFloor (args: Arguments): Promise<Arguments> {
    const { torrents } = this.context
    const body = parseInput(floorRequestSchema, { floor: args.floor })
    return await this.each(args, (view) => torrents.setFloor(torrents.find(view.infoHash), body))
  }

  /** Transmission's `move` is false unless given: the torrent then just looks for its data there. */
  private async setLocation (args: Arguments): Promise<Arguments> {
    const { location, move } = args
    if (typeof location !== 'string' || !isAbsolute(location)) throw new RpcError('torrent-set-location needs an absolute "location"')
    if (move !== undefined && typeof move !== 'boolean') throw new RpcError('move must be true or false')
    const { torrents } = this.context
    return await this.each(args, (view) => torrents.setLocation(torrents.find(view.infoHash), { directory: location, move: move ?? false }))
  }

  private async freeSpace (args: Arguments): Promise<Arguments> {
    const path = args.path
    if (typeof path !== 'string' || !isAbsolute(path)) throw new RpcError('free-space needs an absolute "path"')
    try {
      const stats = await statfs(path)
      return { path, 'size-bytes': stats.bavail * stats.bsize, total_size: stats.blocks * stats.bsize }
    } catch (err) {
      throw new RpcError(`cannot read free space of ${path}: ${errorMessage(err)}`)
    }
  }

  /** Acts on each selected torrent; an error (a BidtorrentError says what is wrong) becomes the RPC's result. */
  private async each (args: Arguments, act: (view: TorrentView) => Promise<unknown>): Promise<Arguments> {
    for (const view of this.ids.select(this.context.torrents.list(), args.ids)) await act(view)
    return {}
  }
}
