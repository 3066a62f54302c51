/*
 * Why this file is long: it is the one entry for every operation on the daemon's torrents (each
 * route of the API, method of the Transmission RPC and command of the CLI calls one method here),
 * and those methods share the engine, the store and the records. Each stays short; what has
 * logic of its own lives beside it (torrent-files, torrent-location, torrent-options, torrent-markets).
 */
import { basename, dirname, join, resolve } from 'node:path'
import type { Logger } from 'winston'
import { createTorrentFrom, type CreationProgress } from '../engine/create.js'
import type { SeedLimits } from '../engine/seed-path.js'
import { magnetLink, parseMagnet } from '../engine/magnet.js'
import { parseTorrentFile, type MagnetInfo, type TorrentMeta } from '../engine/metainfo.js'
import type { PeerInfo } from '../engine/torrent.js'
import type { MarketEngine as Engine, MarketTorrent as Torrent } from './market-engine.js'
import { NO_PAYMENTS } from '../market/market-types.js'
import type { PaymentTotals } from '../market/torrent-market.js'
import { InvalidTorrentError, TorrentNotFoundError, UsageError, errorMessage } from '../util/errors.js'
import type { AddRequest, BidRequest, FilesRequest, FloorRequest, LimitsRequest, LocationRequest, OptionsRequest, PeersRequest, SeedRequest } from './api-schemas.js'
import type { RemovedTorrent, TorrentDetails, TorrentView } from './api-types.js'
import { RecentPieces } from './recent-pieces.js'
import { EventLog } from './event-log.js'
import type { StateStore, TorrentRecord } from './store.js'
import { marketView, type TorrentMarkets } from './torrent-markets.js'
import { changeFiles, filesSelector, partsPathOf, prioritiesAtAdd, removePartsFile } from './torrent-files.js'
import { checkDestination, moveTorrentFiles } from './torrent-location.js'
import { TorrentOptions } from './torrent-options.js'
import { allPieces, orBitfields, updateRecord } from './torrent-records.js'

/** The daemon's torrents through the control API: their lifecycle, and the link between the engine and the durable state. */
export class TorrentService {
  /** Every torrent's typed events, for the API. */
  readonly events = new EventLog()

  constructor (
    private readonly engine: Engine,
    private readonly store: StateStore,
    private defaultDirectory: string,
    private readonly log: Logger,
    /** Each torrent's bid, budget and floor. */
    private readonly markets: TorrentMarkets,
    /** Each torrent's labels and seed limits. */
    readonly options: TorrentOptions,
    /** The most files and bytes `seed` considers. */
    private readonly seedPathLimits: SeedLimits = { maxFiles: 200_000, maxBytes: 8 * 1024 ** 4 },
    /** Where the parts files of torrents with unwanted files go (the daemon's state, not the user's folders). */
    private readonly partsDirectory = join(defaultDirectory, '.bidtorrent-parts')
  ) {}

  /** Brings back every stored torrent, with its resume data. */
  async restore (): Promise<void> {
    // One pass over the sent vouchers for every torrent, not one per torrent.
    const payments = await this.markets.paymentsByTorrent()
    for (const record of await this.store.allTorrents()) {
      try {
        const resume = await this.store.getResume(record.infoHash)
        const meta = record.torrentFile ? await parseTorrentFile(Buffer.from(record.torrentFile, 'base64')) : undefined
        const magnet = !meta && record.magnet ? await parseMagnet(record.magnet) : undefined
        const recheck = orBitfields(await this.store.paidPieces.get(record.infoHash), await this.store.recentPieces.get(record.infoHash))
        await this.startTorrent(record, {
          meta,
          magnet,
          resumeBitfield: resume ? Buffer.from(resume.bitfield, 'base64') : undefined,
          recheckBitfield: recheck,
          paymentsBefore: payments.get(record.infoHash) ?? NO_PAYMENTS
        })
        this.log.info('torrent restored', { infoHash: record.infoHash, name: record.name, resumed: resume !== undefined })
      } catch (err) {
        this.log.error('cannot restore torrent', { infoHash: record.infoHash, error: errorMessage(err) })
      }
    }
  }

  async add (body: AddRequest): Promise<TorrentView> {
    const meta = body.torrent !== undefined ? await parseTorrentFile(Buffer.from(body.torrent, 'base64')) : undefined
    const magnet = body.magnet !== undefined ? await parseMagnet(body.magnet) : undefined
    const infoHash = (meta?.infoHash ?? magnet?.infoHash)!
    const existing = this.engine.get(infoHash)
    if (existing) {
      for (const address of body.peers) existing.addPeerAddress(address, true)
      await this.markets.change(existing, body)
      if (body.files) await changeFiles(existing, this.store, body.files)
      if (body.labels !== undefined || body.seedRatio !== undefined || body.seedIdle !== undefined) await this.options.change(infoHash, body)
      return this.view(existing)
    }
    const filePriorities = meta ? prioritiesAtAdd(meta, body.files) : undefined
    const record: TorrentRecord = {
      infoHash,
      name: meta?.name ?? magnet?.name ?? infoHash,
      directory: body.directory ?? this.defaultDirectory,
      ...(meta ? { torrentFile: meta.torrentFile.toString('base64') } : {}),
      ...(body.magnet !== undefined ? { magnet: body.magnet } : {}),
      paused: body.paused,
      addedAt: new Date().toISOString(),
      uploadLimit: body.uploadLimit,
      downloadLimit: body.downloadLimit,
      peers: body.peers,
      ...(filePriorities ? { filePriorities } : {}),
      ...(!meta && body.files ? { fileSelection: body.files } : {}),
      ...TorrentOptions.recordFields(body),
      ...this.markets.recordFields(body)
    }
    await this.store.putTorrent(record)
    const torrent = await this.startTorrent(record, { meta, magnet, paymentsBefore: await this.markets.paymentsOf(record.infoHash) })
    this.log.info('torrent added', { infoHash, name: record.name, directory: record.directory })
    return this.view(torrent)
  }

  /**
   * Makes a torrent of a path (checked and walked first, hashed on the engine's hash threads) and
   * seeds it; `signal` stops the walk and the hashing (the caller has gone).
   */
  async seed (body: SeedRequest, signal?: AbortSignal, onProgress?: (progress: CreationProgress) => void): Promise<TorrentView> {
    const meta = await createTorrentFrom(body.path, {
      trackers: body.trackers,
      webSeeds: body.webSeeds,
      private: body.private,
      format: body.format,
      hasher: this.engine.hasher,
      limits: this.seedPathLimits,
      ...(onProgress ? { onProgress } : {}),
      ...(body.pieceLength ? { pieceLength: body.pieceLength } : {})
    }, signal)
    if (meta.name !== basename(body.path)) throw new InvalidTorrentError('torrent name does not match the seeded path')
    const existing = this.engine.get(meta.infoHash)
    if (existing) {
      await this.markets.change(existing, body)
      return this.view(existing)
    }
    const directory = dirname(resolve(body.path))
    const record: TorrentRecord = {
      infoHash: meta.infoHash,
      name: meta.name,
      directory,
      torrentFile: meta.torrentFile.toString('base64'),
      paused: false,
      addedAt: new Date().toISOString(),
      uploadLimit: body.uploadLimit,
      downloadLimit: 0,
      peers: body.peers,
      ...(body.superSeed ? { superSeed: true } : {}),
      ...TorrentOptions.recordFields(body),
      ...this.markets.recordFields(body)
    }
    // The content was hashed a moment ago to make the torrent: it is all verified.
    const complete = allPieces(meta)
    await this.store.putTorrent(record)
    await this.store.putResume(meta.infoHash, { bitfield: complete.toString('base64'), savedAt: new Date().toISOString() })
    const torrent = await this.startTorrent(record, { meta, resumeBitfield: complete, paymentsBefore: await this.markets.paymentsOf(record.infoHash) })
    this.log.info('seeding', { infoHash: meta.infoHash, name: meta.name, path: body.path })
    return this.view(torrent)
  }

  private async startTorrent (record: TorrentRecord, start: TorrentStart): Promise<Torrent> {
    const { meta, magnet, resumeBitfield, recheckBitfield } = start
    let recorded: Torrent | undefined
    this.options.load(record)
    const recent = new RecentPieces(record.infoHash, () => recorded?.verifiedBitfield(), this.store.recentPieces, this.log)
    const torrent = await this.engine.add({
      ...(meta ? { meta } : {}),
      ...(magnet ? { magnet } : {}),
      ...(resumeBitfield ? { resumeBitfield } : {}),
      ...(recheckBitfield ? { recheckBitfield } : {}),
      beforeVerified: (index) => recent.add(index),
      selectFiles: filesSelector(record, this.store, this.log),
      partsPath: partsPathOf(this.partsDirectory, record.infoHash),
      directory: record.directory,
      paused: record.paused,
      peers: record.peers,
      uploadLimit: record.uploadLimit,
      downloadLimit: record.downloadLimit,
      superSeed: record.superSeed ?? false,
      ...(await this.markets.marketFor(record, start.paymentsBefore))
    })
    recorded = torrent
    this.watch(torrent)
    return torrent
  }

  /** Changes a torrent's bid at once, within its budget (TorrentMarkets.applyBid). */
  async setBid (torrent: Torrent, body: BidRequest): Promise<TorrentView> {
    this.markets.check({ bid: body.price, budget: body.budget })
    await this.markets.applyBid(torrent, body.price, body.budget, body.target)
    return this.view(torrent)
  }

  /** Changes a torrent's floor at once (null: the daemon's default); connected bidders hear it at once. */
  async setFloor (torrent: Torrent, body: FloorRequest): Promise<TorrentView> {
    if (body.floor !== null) this.markets.check({ floor: body.floor })
    await this.markets.applyFloor(torrent, body.floor ?? undefined)
    return this.view(torrent)
  }

  list (): TorrentView[] {
    return this.engine.list().map((torrent) => this.view(torrent))
  }

  info (id: string): TorrentDetails {
    const torrent = this.find(id)
    return { ...this.view(torrent), peerList: torrent.peerList() }
  }

  peers (id: string): PeerInfo[] {
    return this.find(id).peerList()
  }

  torrentFile (id: string): Buffer {
    const torrent = this.find(id)
    if (!torrent.meta) throw new UsageError(`torrent ${torrent.infoHash} has no metadata yet`)
    return torrent.meta.torrentFile
  }

  async pause (id: string): Promise<TorrentView> {
    const torrent = this.find(id)
    await torrent.pause()
    await this.saveResume(torrent)
    await updateRecord(this.store, torrent.infoHash, { paused: true })
    return this.view(torrent)
  }

  async resume (id: string): Promise<TorrentView> {
    const torrent = this.find(id)
    // Before it runs: the seed-limit watch must not see it seeding with its old limit.
    await this.options.started(torrent.infoHash, torrent.status())
    torrent.resume()
    await updateRecord(this.store, torrent.infoHash, { paused: false })
    return this.view(torrent)
  }

  /**
   * Starts a check of the torrent's data on disk (the check runs on; its progress shows in the
   * torrent's status); the resume data names what it found once it is done.
   */
  verify (id: string): TorrentView {
    const torrent = this.find(id)
    void torrent.recheck().then(() => this.saveResume(torrent), (err: unknown) => this.log.error('verify failed', { infoHash: torrent.infoHash, error: errorMessage(err) }))
    this.log.info('verifying', { infoHash: torrent.infoHash, name: torrent.name })
    return this.view(torrent)
  }

  /** Announces the torrent to its trackers now. */
  reannounce (id: string): TorrentView {
    const torrent = this.find(id)
    torrent.reannounce()
    return this.view(torrent)
  }

  /**
   * Puts a torrent's data in another folder: with `move` its files go there (moveTorrentFiles) and
   * it goes on with what it had; without, it looks there and checks what it finds. It stops
   * meanwhile and starts again from its record, as at the daemon's start.
   */
  async setLocation (torrent: Torrent, body: LocationRequest): Promise<TorrentView> {
    const { meta, infoHash } = torrent
    const record = await this.store.getTorrent(infoHash)
    const directory = resolve(body.directory)
    if (!record || directory === resolve(record.directory)) return this.view(torrent)
    const move = body.move && meta !== undefined
    if (move) await checkDestination(meta, directory)
    const had = move ? await torrent.durableBitfield() : undefined
    await this.engine.remove(infoHash)
    let placed: TorrentRecord = { ...record, directory }
    const failure = move ? await moveTorrentFiles(meta, record.directory, directory, this.log).then(() => undefined, (err: unknown) => err) : undefined
    if (failure !== undefined) placed = record
    await this.store.putTorrent(placed)
    if (!move) await this.store.deleteResume(infoHash)
    const magnet = !meta && record.magnet ? await parseMagnet(record.magnet) : undefined
    const restarted = await this.startTorrent(placed, { meta, magnet, resumeBitfield: had, paymentsBefore: await this.markets.paymentsOf(infoHash) })
    if (failure !== undefined) throw failure
    this.log.info('torrent moved', { infoHash, directory, movedData: move })
    return this.view(restarted)
  }

  async remove (id: string, deleteData: boolean): Promise<RemovedTorrent> {
    const torrent = this.find(id)
    await this.store.deleteTorrent(torrent.infoHash)
    await this.engine.remove(torrent.infoHash, { deleteData })
    this.options.forget(torrent.infoHash)
    // Without the torrent its parts file is of no use, whether its data is kept or not.
    await removePartsFile(this.partsDirectory, torrent.infoHash)
    this.log.info('torrent removed', { infoHash: torrent.infoHash, deleteData })
    return { infoHash: torrent.infoHash, deletedData: deleteData }
  }

  async setLimits (torrent: Torrent, body: LimitsRequest): Promise<TorrentView> {
    const limits = {
      ...(body.uploadLimit !== undefined ? { uploadLimit: body.uploadLimit } : {}),
      ...(body.downloadLimit !== undefined ? { downloadLimit: body.downloadLimit } : {})
    }
    torrent.setLimits(limits)
    await updateRecord(this.store, torrent.infoHash, limits)
    return this.view(torrent)
  }

  /** Changes a torrent's labels, seed limits and super-seeding. */
  async setOptions (torrent: Torrent, body: OptionsRequest): Promise<TorrentView> {
    await this.options.change(torrent.infoHash, body)
    if (body.superSeed !== undefined) {
      await updateRecord(this.store, torrent.infoHash, { superSeed: body.superSeed })
      torrent.setSuperSeeding(body.superSeed)
    }
    return this.view(torrent)
  }

  /** Where torrents added from now on are saved unless their request says (Transmission's session-set download-dir). */
  setDefaultDirectory (directory: string): void {
    this.defaultDirectory = directory
  }

  /** Changes which files are downloaded, and their priorities (engine/file-selection.ts). */
  async setFiles (torrent: Torrent, body: FilesRequest): Promise<TorrentView> {
    await changeFiles(torrent, this.store, body)
    return this.view(torrent)
  }

  async addPeers (torrent: Torrent, body: PeersRequest): Promise<TorrentView> {
    for (const address of body.peers) torrent.addPeerAddress(address, true)
    return this.view(torrent)
  }

  /** Writes resume data for every torrent (periodically and at shutdown). */
  async saveAllResume (): Promise<void> {
    await Promise.all(this.engine.list().map(async (torrent) => {
      await this.saveResume(torrent)
      await this.options.saveUploads(torrent.infoHash, torrent.status().uploaded)
        .catch((err: unknown) => this.log.error('cannot save the bytes uploaded', { infoHash: torrent.infoHash, error: errorMessage(err) }))
    }))
  }

  private readonly lastSaved = new Map<string, string>()

  private async saveResume (torrent: Torrent): Promise<void> {
    try {
      const bitfield = await torrent.durableBitfield()
      if (!bitfield) return
      const encoded = bitfield.toString('base64')
      if (this.lastSaved.get(torrent.infoHash) === encoded) return
      if (!await this.store.getTorrent(torrent.infoHash)) return
      await this.store.putResume(torrent.infoHash, { bitfield: encoded, savedAt: new Date().toISOString() })
      this.lastSaved.set(torrent.infoHash, encoded)
    } catch (err) {
      this.log.error('cannot save resume data', { infoHash: torrent.infoHash, error: errorMessage(err) })
    }
  }

  private watch (torrent: Torrent): void {
    torrent.events.on((event) => {
      this.events.record(torrent.infoHash, event)
      if (event.type === 'metadata') this.storeMetadata(torrent.infoHash, event.meta)
      else if (event.type === 'complete') void this.saveResume(torrent)
    })
  }

  private storeMetadata (infoHash: string, meta: TorrentMeta): void {
    void updateRecord(this.store, infoHash, { name: meta.name, torrentFile: meta.torrentFile.toString('base64') })
      .catch((err: unknown) => this.log.error('cannot store metadata', { infoHash, error: errorMessage(err) }))
  }

  /** Finds a torrent by full info hash, unique prefix (4+ characters) or exact name. */
  find (id: string): Torrent {
    const needle = id.trim().toLowerCase()
    const torrents = this.engine.list()
    const exact = torrents.find((torrent) => torrent.infoHash === needle)
    if (exact) return exact
    const byPrefix = needle.length >= 4 ? torrents.filter((torrent) => torrent.infoHash.startsWith(needle)) : []
    if (byPrefix.length === 1) return byPrefix[0]!
    if (byPrefix.length > 1) throw new UsageError(`"${id}" matches ${byPrefix.length} torrents; give more of the info hash`)
    const byName = torrents.filter((torrent) => torrent.name === id)
    if (byName.length === 1) return byName[0]!
    throw new TorrentNotFoundError(id)
  }

  private view (torrent: Torrent): TorrentView {
    const status = torrent.status()
    const magnet = torrent.meta ? magnetLink(torrent.meta) : `magnet:?xt=urn:btih:${torrent.infoHash}`
    return { ...status, magnet, market: torrent.market ? marketView(torrent.market) : null, ...this.options.view(torrent.infoHash, status) }
  }
}

/** How a torrent starts: its metadata or magnet, what is already verified or paid, what it spent before. */
interface TorrentStart {
  readonly meta?: TorrentMeta | undefined
  readonly magnet?: MagnetInfo | undefined
  readonly resumeBitfield?: Uint8Array | undefined
  readonly recheckBitfield?: Uint8Array | undefined
  readonly paymentsBefore: PaymentTotals
}
