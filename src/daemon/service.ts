import { basename, dirname, isAbsolute, resolve } from 'node:path'
import BitField from 'bitfield'
import type { Logger } from 'winston'
import { z } from 'zod'
import type { Engine } from '../engine/engine.js'
import { createTorrentFrom } from '../engine/create.js'
import { magnetLink, parseMagnet, parseTorrentFile, type MagnetInfo, type TorrentMeta } from '../engine/metainfo.js'
import type { PeerInfo, Torrent, TorrentStatus } from '../engine/torrent.js'
import { InvalidTorrentError, TorrentNotFoundError, UsageError, errorMessage } from '../util/errors.js'
import { amountSchema, quoteSchema, rateSchema } from '../config/schemas.js'
import { isUsd, quoteFromText, quoteText, type Quote } from '../market/price.js'
import type { MarketConfig, MarketHooks, TorrentMarket, TorrentMarketOptions, TradeTotals } from '../market/torrent-market.js'
import type { ChainWallet, ChannelView, WalletBalance } from '../settlement/chain-wallet.js'
import { isPeerAddress } from '../util/address.js'
import type { RedemptionRecord, StateStore, TorrentRecord, VoucherRecord } from './store.js'

const peerAddress = z.string().refine(isPeerAddress, 'peers are HOST:PORT with a port from 1 to 65535')
const absolutePath = z.string().min(1).refine((value) => isAbsolute(value), 'must be an absolute path')

export const addRequestSchema = z.object({
  /** A .torrent file, base64. */
  torrent: z.string().max(70 * 1024 * 1024).optional(),
  magnet: z.string().max(64 * 1024).optional(),
  directory: absolutePath.optional(),
  peers: z.array(peerAddress).max(1000).default([]),
  paused: z.boolean().default(false),
  uploadLimit: rateSchema.default(0),
  downloadLimit: rateSchema.default(0),
  bid: z.union([z.literal('auto'), quoteSchema]).optional(),
  budget: amountSchema.optional(),
  floor: quoteSchema.optional()
}).strict()
  .refine((body) => (body.torrent === undefined) !== (body.magnet === undefined), 'give exactly one of torrent and magnet')
  .refine((body) => body.bid === undefined || body.bid === 0n || (body.budget ?? 0n) > 0n, { message: 'a bid needs a budget above zero (the daemon never spends without both)', path: ['budget'] })

export const seedRequestSchema = z.object({
  path: absolutePath,
  trackers: z.array(z.string().url()).max(100).default([]),
  pieceLength: z.number().int().min(16 * 1024).max(64 * 1024 * 1024).refine((n) => (n & (n - 1)) === 0, 'piece length must be a power of two').optional(),
  private: z.boolean().default(false),
  peers: z.array(peerAddress).max(1000).default([]),
  uploadLimit: rateSchema.default(0),
  floor: quoteSchema.optional()
}).strict()

export const limitsRequestSchema = z.object({
  uploadLimit: rateSchema.optional(),
  downloadLimit: rateSchema.optional()
}).strict()

export const peersRequestSchema = z.object({ peers: z.array(peerAddress).min(1).max(1000) }).strict()

const walletAddress = z.string().refine((text) => /^T[1-9A-HJ-NP-Za-km-z]{33}$/.test(text) || /^0x[0-9a-fA-F]{40}$/.test(text), 'a TRON (T…) or EVM (0x…) address')
export const openChannelSchema = z.object({ payee: walletAddress, infoHash: z.string().regex(/^[0-9a-f]{40}$/, '40 hex digits'), deposit: amountSchema }).strict()
export const topUpSchema = z.object({ amount: amountSchema }).strict()
export const withdrawSchema = z.object({ to: walletAddress, amount: amountSchema, native: z.boolean().optional() }).strict()

export const bidRequestSchema = z.object({ price: z.union([z.literal('auto'), quoteSchema]), budget: amountSchema.optional() }).strict()

/** A torrent's market settings and what it has spent, amounts in base units as decimal strings. */
export interface TorrentMarketView {
  readonly bid: string
  readonly budget: string
  readonly floor: string
  readonly spent: string
  /** This run's metered trade per wallet (see TradeTotals). */
  readonly trades: readonly TradeTotals[]
}

/** Earnings or spending from the stored vouchers: per torrent, and per peer within it. */
export interface VoucherTotals {
  readonly total: string
  readonly torrents: ReadonlyArray<{ readonly infoHash: string, readonly total: string, readonly peers: ReadonlyArray<{ readonly wallet: string, readonly amount: string, readonly vouchers: number, readonly channel: string }> }>
}

export interface TorrentView extends TorrentStatus {
  readonly magnet: string
  readonly market: TorrentMarketView | null
}

/** What the control API can do; it owns the link between the engine and the durable state. */
export class DaemonService {
  constructor (
    private readonly engine: Engine,
    private readonly store: StateStore,
    private readonly defaultDirectory: string,
    private readonly log: Logger,
    /** Absent when the daemon has no unlocked wallet: torrents then trade nothing. */
    private readonly market?: MarketConfig,
    /** `--bid auto` is opt-in (setting autoBid). */
    private readonly autoBidAllowed = false,
    /** On a chain backend: balances and channels, through the unlocked key. */
    private readonly chainWallet?: ChainWallet,
    private readonly channelLifetimeSeconds = 7 * 86_400
  ) {}

  private chain (): ChainWallet {
    if (!this.chainWallet) throw new UsageError(`this daemon settles ${this.market ? `with ${this.market.settlement.backend}` : 'nothing (the market is off)'}: no chain wallet (settings settlement, chainRpcUrl, channelContract)`)
    return this.chainWallet
  }

  async walletBalance (): Promise<WalletBalance> {
    return this.chain().balance()
  }

  async channels (): Promise<ChannelView[]> {
    return this.chain().channels()
  }

  async openChannel (input: unknown): Promise<ChannelView> {
    const body = parseInput(openChannelSchema, input)
    return this.chain().open(body.payee, body.infoHash, body.deposit, this.channelLifetimeSeconds)
  }

  async topUpChannel (id: string, input: unknown): Promise<ChannelView> {
    const body = parseInput(topUpSchema, input)
    return this.chain().topUp(id, body.amount, this.channelLifetimeSeconds)
  }

  async closeChannel (id: string): Promise<unknown> {
    return this.chain().close(id)
  }

  async withdraw (input: unknown): Promise<unknown> {
    const body = parseInput(withdrawSchema, input)
    return this.chain().withdraw(body.to, body.amount, body.native ?? false)
  }

  /** Brings back every stored torrent, with its resume data. */
  async restore (): Promise<void> {
    // One pass over the sent vouchers for every torrent, not one per torrent.
    const spent = await this.spentByTorrent()
    for (const record of await this.store.allTorrents()) {
      try {
        const resume = await this.store.getResume(record.infoHash)
        const meta = record.torrentFile ? await parseTorrentFile(Buffer.from(record.torrentFile, 'base64')) : undefined
        const magnet = !meta && record.magnet ? await parseMagnet(record.magnet) : undefined
        const paid = await this.store.paidPieces.get(record.infoHash)
        await this.startTorrent(record, {
          meta,
          magnet,
          resumeBitfield: resume ? Buffer.from(resume.bitfield, 'base64') : undefined,
          paidBitfield: paid ? Buffer.from(paid.bitfield, 'base64') : undefined,
          spentBefore: spent.get(record.infoHash) ?? 0n
        })
        this.log.info('torrent restored', { infoHash: record.infoHash, name: record.name, resumed: resume !== undefined })
      } catch (err) {
        this.log.error('cannot restore torrent', { infoHash: record.infoHash, error: errorMessage(err) })
      }
    }
  }

  async add (input: unknown): Promise<TorrentView> {
    const body = parseInput(addRequestSchema, input)
    const meta = body.torrent !== undefined ? await parseTorrentFile(Buffer.from(body.torrent, 'base64')) : undefined
    const magnet = body.magnet !== undefined ? await parseMagnet(body.magnet) : undefined
    const infoHash = (meta?.infoHash ?? magnet?.infoHash)!
    const existing = this.engine.get(infoHash)
    if (existing) {
      for (const address of body.peers) existing.addPeerAddress(address)
      return this.view(existing)
    }
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
      ...this.marketFields(body)
    }
    await this.store.putTorrent(record)
    const torrent = await this.startTorrent(record, { meta, magnet, spentBefore: await this.spentOn(record.infoHash) })
    this.log.info('torrent added', { infoHash, name: record.name, directory: record.directory })
    return this.view(torrent)
  }

  async seed (input: unknown): Promise<TorrentView> {
    const body = parseInput(seedRequestSchema, input)
    const meta = await createTorrentFrom(body.path, {
      trackers: body.trackers,
      private: body.private,
      ...(body.pieceLength ? { pieceLength: body.pieceLength } : {})
    })
    if (meta.name !== basename(body.path)) throw new InvalidTorrentError('torrent name does not match the seeded path')
    const existing = this.engine.get(meta.infoHash)
    if (existing) return this.view(existing)
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
      ...this.marketFields(body)
    }
    // The content was hashed a moment ago to make the torrent: it is all verified.
    const complete = allPieces(meta)
    await this.store.putTorrent(record)
    await this.store.putResume(meta.infoHash, { bitfield: complete.toString('base64'), savedAt: new Date().toISOString() })
    const torrent = await this.startTorrent(record, { meta, resumeBitfield: complete, spentBefore: await this.spentOn(record.infoHash) })
    this.log.info('seeding', { infoHash: meta.infoHash, name: meta.name, path: body.path })
    return this.view(torrent)
  }

  private async startTorrent (record: TorrentRecord, start: TorrentStart): Promise<Torrent> {
    const { meta, magnet, resumeBitfield, paidBitfield } = start
    const torrent = await this.engine.add({
      ...(meta ? { meta } : {}),
      ...(magnet ? { magnet } : {}),
      ...(resumeBitfield ? { resumeBitfield } : {}),
      ...(paidBitfield ? { paidBitfield } : {}),
      directory: record.directory,
      paused: record.paused,
      peers: record.peers,
      uploadLimit: record.uploadLimit,
      downloadLimit: record.downloadLimit,
      ...(await this.marketFor(record, start.spentBefore))
    })
    this.watch(torrent)
    return torrent
  }

  private marketFields (body: { bid?: Quote | 'auto' | undefined, budget?: bigint | undefined, floor?: Quote | undefined }): Pick<TorrentRecord, 'bid' | 'budget' | 'floor'> {
    if ((body.bid !== undefined || body.floor !== undefined) && !this.market) {
      throw new UsageError('the market is off in this daemon: it needs a wallet ("bidtorrent wallet create") and $BIDTORRENT_PASSPHRASE when it starts')
    }
    if (body.bid === 'auto' && !this.autoBidAllowed) throw new UsageError('auto-bid is off in this daemon (setting autoBid); give a price instead')
    this.checkUsd(body.bid)
    this.checkUsd(body.floor)
    return {
      ...(body.bid !== undefined ? { bid: body.bid === 'auto' ? 'auto' : quoteText(body.bid) } : {}),
      ...(body.budget !== undefined ? { budget: body.budget.toString() } : {}),
      ...(body.floor !== undefined ? { floor: quoteText(body.floor) } : {})
    }
  }

  /** A USD quote needs a BTT price to be turned into BTT: refuse it plainly without one. */
  private checkUsd (quote: Quote | 'auto' | undefined): void {
    if (quote !== undefined && quote !== 'auto' && isUsd(quote) && !this.market?.prices?.configured) {
      throw new UsageError('a price in USD needs a BTT price: set usdPerBtt, or priceSourceUrl (and priceSourcePath)')
    }
  }

  /** What the stored vouchers say each torrent has spent, in earlier runs: its budget holds across restarts. */
  private async spentByTorrent (): Promise<Map<string, bigint>> {
    const spent = new Map<string, bigint>()
    if (!this.market) return spent
    for (const voucher of await this.store.sentVouchers.all()) spent.set(voucher.infoHash, (spent.get(voucher.infoHash) ?? 0n) + BigInt(voucher.amount))
    return spent
  }

  private async spentOn (infoHash: string): Promise<bigint> {
    return (await this.spentByTorrent()).get(infoHash) ?? 0n
  }

  private async marketFor (record: TorrentRecord, spentBefore: bigint): Promise<{ market?: (hooks: MarketHooks) => TorrentMarket }> {
    const config = this.market
    if (!config) return {}
    const auto = record.bid === 'auto'
    const options: TorrentMarketOptions = {
      bid: auto ? 0n : quoteFromText(record.bid ?? '0'),
      auto,
      budget: BigInt(record.budget ?? '0'),
      floor: record.floor !== undefined ? quoteFromText(record.floor) : undefined
    }
    const { TorrentMarket } = await import('../market/torrent-market.js')
    return { market: (hooks) => new TorrentMarket(record.infoHash, config, options, spentBefore, hooks, this.log) }
  }

  /** Changes a torrent's bid at once (and its budget, when given); 0 withdraws the bid. */
  async setBid (id: string, input: unknown): Promise<TorrentView> {
    const torrent = this.find(id)
    const body = parseInput(bidRequestSchema, input)
    if (!torrent.market) throw new UsageError('the market is off in this daemon: it needs a wallet and $BIDTORRENT_PASSPHRASE when it starts')
    if (body.price === 'auto' && !this.autoBidAllowed) throw new UsageError('auto-bid is off in this daemon (setting autoBid); give a price instead')
    this.checkUsd(body.price)
    if (body.budget !== undefined) torrent.market.options.budget = body.budget
    if (body.price !== 0n && torrent.market.options.budget <= torrent.market.totalSpent) {
      throw new UsageError('this torrent has no budget left; give a larger --budget with the bid')
    }
    torrent.market.options.auto = body.price === 'auto'
    if (body.price === 'auto') torrent.market.autoBid(torrent.bytesLeft())
    else torrent.market.setBid(body.price)
    await this.updateRecord(torrent.infoHash, { bid: body.price === 'auto' ? 'auto' : quoteText(body.price), budget: torrent.market.options.budget.toString() })
    return this.view(torrent)
  }

  /** Redeems every stored voucher now (on a chain: claims, whatever their size) and lists what is redeemed. */
  async settle (): Promise<{ backend: string, redemptions: RedemptionRecord[], error?: string }> {
    if (!this.market) throw new UsageError('the market is off in this daemon: nothing to settle')
    return { backend: this.market.settlement.backend, ...await this.market.settleNow() }
  }

  async earnings (): Promise<VoucherTotals> {
    return totalsOf(await this.store.receivedVouchers.all(), (voucher) => voucher.payer)
  }

  async spending (): Promise<VoucherTotals> {
    return totalsOf(await this.store.sentVouchers.all(), (voucher) => voucher.payee)
  }

  list (): TorrentView[] {
    return this.engine.list().map((torrent) => this.view(torrent))
  }

  info (id: string): TorrentView & { peerList: PeerInfo[] } {
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
    await this.updateRecord(torrent.infoHash, { paused: true })
    return this.view(torrent)
  }

  async resume (id: string): Promise<TorrentView> {
    const torrent = this.find(id)
    torrent.resume()
    await this.updateRecord(torrent.infoHash, { paused: false })
    return this.view(torrent)
  }

  async remove (id: string, deleteData: boolean): Promise<{ infoHash: string; deletedData: boolean }> {
    const torrent = this.find(id)
    await this.store.deleteTorrent(torrent.infoHash)
    await this.engine.remove(torrent.infoHash, { deleteData })
    this.log.info('torrent removed', { infoHash: torrent.infoHash, deleteData })
    return { infoHash: torrent.infoHash, deletedData: deleteData }
  }

  async setLimits (id: string, input: unknown): Promise<TorrentView> {
    const torrent = this.find(id)
    const body = parseInput(limitsRequestSchema, input)
    const limits = {
      ...(body.uploadLimit !== undefined ? { uploadLimit: body.uploadLimit } : {}),
      ...(body.downloadLimit !== undefined ? { downloadLimit: body.downloadLimit } : {})
    }
    torrent.setLimits(limits)
    await this.updateRecord(torrent.infoHash, limits)
    return this.view(torrent)
  }

  async addPeers (id: string, input: unknown): Promise<TorrentView> {
    const torrent = this.find(id)
    const body = parseInput(peersRequestSchema, input)
    for (const address of body.peers) torrent.addPeerAddress(address)
    return this.view(torrent)
  }

  /** Writes resume data for every torrent (periodically and at shutdown). */
  async saveAllResume (): Promise<void> {
    await Promise.all(this.engine.list().map((torrent) => this.saveResume(torrent)))
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
    torrent.on('metadata', (meta: TorrentMeta) => {
      void this.updateRecord(torrent.infoHash, { name: meta.name, torrentFile: meta.torrentFile.toString('base64') })
        .catch((err: unknown) => this.log.error('cannot store metadata', { infoHash: torrent.infoHash, error: errorMessage(err) }))
    })
    torrent.on('done', () => { void this.saveResume(torrent) })
  }

  private async updateRecord (infoHash: string, changes: Partial<TorrentRecord>): Promise<void> {
    const record = await this.store.getTorrent(infoHash)
    if (record) await this.store.putTorrent({ ...record, ...changes })
  }

  /** Finds a torrent by full info hash, unique prefix (4+ characters) or exact name. */
  private find (id: string): Torrent {
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
    const market = torrent.market
      ? { bid: quoteText(torrent.market.options.bid), budget: torrent.market.options.budget.toString(), floor: torrent.market.floor.toString(), spent: torrent.market.totalSpent.toString(), trades: torrent.market.tradeTotals() }
      : null
    return { ...status, magnet, market }
  }
}

/** How a torrent starts: its metadata or magnet, what is already verified or paid, what it spent before. */
interface TorrentStart {
  readonly meta?: TorrentMeta | undefined
  readonly magnet?: MagnetInfo | undefined
  readonly resumeBitfield?: Uint8Array | undefined
  readonly paidBitfield?: Uint8Array | undefined
  readonly spentBefore: bigint
}

function totalsOf (vouchers: readonly VoucherRecord[], counterpart: (voucher: VoucherRecord) => string): VoucherTotals {
  const torrents = new Map<string, VoucherRecord[]>()
  for (const voucher of vouchers) {
    const list = torrents.get(voucher.infoHash)
    if (list) list.push(voucher)
    else torrents.set(voucher.infoHash, [voucher])
  }
  let total = 0n
  const rows = [...torrents].map(([infoHash, list]) => {
    const sum = list.reduce((acc, voucher) => acc + BigInt(voucher.amount), 0n)
    total += sum
    return {
      infoHash,
      total: sum.toString(),
      peers: list.map((voucher) => ({ wallet: counterpart(voucher), amount: voucher.amount, vouchers: voucher.nonce, channel: voucher.channel }))
    }
  })
  return { total: total.toString(), torrents: rows }
}

function allPieces (meta: TorrentMeta): Buffer {
  const bits = new BitField(meta.pieceCount)
  for (let i = 0; i < meta.pieceCount; i++) bits.set(i, true)
  return Buffer.from(bits.buffer)
}

function parseInput<T extends z.ZodType> (schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input)
  if (!result.success) {
    throw new UsageError(result.error.issues.map((issue) => `${issue.path.join('.') || 'request'}: ${issue.message}`).join('; '))
  }
  return result.data
}
