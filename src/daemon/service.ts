import { basename, dirname, isAbsolute, resolve } from 'node:path'
import BitField from 'bitfield'
import type { Logger } from 'winston'
import { z } from 'zod'
import type { Engine as AnyEngine } from '../engine/engine.js'
import { createTorrentFrom } from '../engine/create.js'
import { checkSeedPath, type SeedLimits } from '../engine/seed-path.js'
import { magnetLink, parseMagnet, parseTorrentFile, type MagnetInfo, type TorrentMeta } from '../engine/metainfo.js'
import type { PeerInfo, Torrent as AnyTorrent, TorrentStatus } from '../engine/torrent.js'
import { InvalidTorrentError, TorrentNotFoundError, UsageError, errorMessage } from '../util/errors.js'
import { addressSchema, amountSchema, moneySchema, quoteSchema, rateSchema } from '../config/schemas.js'
import { formatMoney, isUsd, isUsdAmount, moneyToBtt, quoteFromText, quoteText, readableBtt, type Money, type Quote } from '../money/price.js'
import type { AutoBidView, MarketConfig, MarketHooks, MarketNotice, PaymentTotals, SellerBidView, TorrentMarket, TorrentMarketOptions, TradeTotals } from '../market/torrent-market.js'
import { NO_PAYMENTS } from '../market/market-types.js'
import type { ChainWallet, ChannelView, WalletBalance } from '../settlement/chain-wallet.js'
import { isPeerAddress } from '../util/address.js'
import { RecentPieces } from './recent-pieces.js'
import type { AcceptedRecord, RedemptionRecord, VoucherRecord } from '../settlement/records.js'
import type { StateStore, TorrentRecord } from './store.js'

/** The daemon's engine and torrents trade through its market (the engine only knows the port). */
export type Engine = AnyEngine<TorrentMarket>
type Torrent = AnyTorrent<TorrentMarket>

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
  budget: moneySchema.optional(),
  /** With `bid: "auto"`: the download rate wanted (auto-bid pays only while below it). */
  target: rateSchema.optional(),
  floor: quoteSchema.optional()
}).strict()
  .refine((body) => (body.torrent === undefined) !== (body.magnet === undefined), 'give exactly one of torrent and magnet')
  .refine((body) => body.target === undefined || body.bid === 'auto', { message: 'a target rate goes with an auto bid (--bid auto)', path: ['target'] })
  .refine((body) => body.bid === undefined || body.bid === 0n || (body.budget !== undefined && (isUsdAmount(body.budget) ? body.budget.usd : body.budget) > 0n), { message: 'a bid needs a budget above zero (the daemon never spends without both)', path: ['budget'] })

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

export const openChannelSchema = z.object({ payee: addressSchema, infoHash: z.string().regex(/^[0-9a-f]{40}$/, '40 hex digits'), deposit: amountSchema }).strict()
export const topUpSchema = z.object({ amount: amountSchema }).strict()
export const withdrawSchema = z.object({ to: addressSchema, amount: amountSchema, native: z.boolean().optional() }).strict()

export const bidRequestSchema = z.object({ price: z.union([z.literal('auto'), quoteSchema]), budget: moneySchema.optional(), target: rateSchema.optional() }).strict()
  .refine((body) => body.target === undefined || body.price === 'auto', { message: 'a target rate goes with an auto bid (auto)', path: ['target'] })
export const floorRequestSchema = z.object({ floor: quoteSchema.nullable() }).strict()

/** A torrent's market settings and what it has paid, amounts in base units as decimal strings. */
export interface TorrentMarketView {
  readonly bid: string
  readonly budget: string
  /** The floor in force now (0: this torrent sells nothing). */
  readonly floor: string
  /** What sellers confirmed holding from us (their receipts), across runs: paid. */
  readonly paid: string
  /** Signed and not (yet) confirmed by the seller; never counted as paid. */
  readonly signedNotAccepted: string
  /** What the budget counts: the most signed on each channel. */
  readonly committed: string
  /** With `--bid auto`: its bid, target and reasoning. */
  readonly autoBid: AutoBidView | null
  /** Our bid to each connected seller: its state, rate, and what we paid it. */
  readonly sellers: readonly SellerBidView[]
  /** Warnings for the user (a bid that stopped working, a limit reached), oldest first. */
  readonly notices: readonly MarketNotice[]
  /** This run's metered trade per wallet (see TradeTotals). */
  readonly trades: readonly TradeTotals[]
}

/** One channel in earnings or spending. */
export interface ChannelTotal {
  readonly wallet: string
  /** Paid: in earnings the best voucher stored; in spending what the seller confirmed holding. */
  readonly amount: string
  /** The number of vouchers (the nonce of the one that counts). */
  readonly vouchers: number
  readonly channel: string
  /** Spending only: our latest voucher, and what of it the seller has not confirmed. */
  readonly signed?: string
  readonly signedNotAccepted?: string
}

/** Earnings or spending from the stored vouchers (and, for spending, the sellers' receipts): per torrent, and per peer within it. */
export interface VoucherTotals {
  readonly total: string
  /** Spending only: signed and not confirmed, never counted in `total`. */
  readonly signedNotAccepted?: string
  readonly torrents: ReadonlyArray<{ readonly infoHash: string, readonly total: string, readonly peers: readonly ChannelTotal[] }>
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
    private readonly channelLifetimeSeconds = 7 * 86_400,
    /** The most files and bytes `seed` considers. */
    private readonly seedLimits: SeedLimits = { maxFiles: 200_000, maxBytes: 8 * 1024 ** 4 }
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
    const payments = await this.paymentsByTorrent()
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

  async add (input: unknown): Promise<TorrentView> {
    const body = parseInput(addRequestSchema, input)
    const meta = body.torrent !== undefined ? await parseTorrentFile(Buffer.from(body.torrent, 'base64')) : undefined
    const magnet = body.magnet !== undefined ? await parseMagnet(body.magnet) : undefined
    const infoHash = (meta?.infoHash ?? magnet?.infoHash)!
    const existing = this.engine.get(infoHash)
    if (existing) {
      for (const address of body.peers) existing.addPeerAddress(address, true)
      await this.changeMarket(existing, body)
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
    const torrent = await this.startTorrent(record, { meta, magnet, paymentsBefore: await this.paymentsOf(record.infoHash) })
    this.log.info('torrent added', { infoHash, name: record.name, directory: record.directory })
    return this.view(torrent)
  }

  /** Makes a torrent of a path and seeds it; `signal` stops the walk and the hashing (the caller has gone). */
  async seed (input: unknown, signal?: AbortSignal): Promise<TorrentView> {
    const body = parseInput(seedRequestSchema, input)
    await checkSeedPath(body.path, this.seedLimits, signal)
    const meta = await createTorrentFrom(body.path, {
      trackers: body.trackers,
      private: body.private,
      ...(body.pieceLength ? { pieceLength: body.pieceLength } : {})
    }, signal)
    if (meta.name !== basename(body.path)) throw new InvalidTorrentError('torrent name does not match the seeded path')
    const existing = this.engine.get(meta.infoHash)
    if (existing) {
      await this.changeMarket(existing, body)
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
      ...this.marketFields(body)
    }
    // The content was hashed a moment ago to make the torrent: it is all verified.
    const complete = allPieces(meta)
    await this.store.putTorrent(record)
    await this.store.putResume(meta.infoHash, { bitfield: complete.toString('base64'), savedAt: new Date().toISOString() })
    const torrent = await this.startTorrent(record, { meta, resumeBitfield: complete, paymentsBefore: await this.paymentsOf(record.infoHash) })
    this.log.info('seeding', { infoHash: meta.infoHash, name: meta.name, path: body.path })
    return this.view(torrent)
  }

  private async startTorrent (record: TorrentRecord, start: TorrentStart): Promise<Torrent> {
    const { meta, magnet, resumeBitfield, recheckBitfield } = start
    let recorded: Torrent | undefined
    const recent = new RecentPieces(record.infoHash, () => recorded?.verifiedBitfield(), this.store.recentPieces, this.log)
    const torrent = await this.engine.add({
      ...(meta ? { meta } : {}),
      ...(magnet ? { magnet } : {}),
      ...(resumeBitfield ? { resumeBitfield } : {}),
      ...(recheckBitfield ? { recheckBitfield } : {}),
      beforeVerified: (index) => recent.add(index),
      directory: record.directory,
      paused: record.paused,
      peers: record.peers,
      uploadLimit: record.uploadLimit,
      downloadLimit: record.downloadLimit,
      ...(await this.marketFor(record, start.paymentsBefore))
    })
    recorded = torrent
    this.watch(torrent)
    return torrent
  }

  private marketFields (body: MarketFields): Pick<TorrentRecord, 'bid' | 'budget' | 'floor' | 'autoTarget'> {
    this.checkMarket(body)
    return {
      ...(body.bid !== undefined ? { bid: body.bid === 'auto' ? 'auto' : quoteText(body.bid) } : {}),
      ...(body.target !== undefined ? { autoTarget: body.target } : {}),
      ...(body.budget !== undefined ? { budget: this.inBtt(body.budget).toString() } : {}),
      ...(body.floor !== undefined ? { floor: quoteText(body.floor) } : {})
    }
  }

  /** Market flags are refused plainly where the market cannot take them, never ignored. */
  private checkMarket (body: MarketFields): void {
    if ((body.bid !== undefined || body.floor !== undefined || body.budget !== undefined) && !this.market) {
      throw new UsageError(MARKET_OFF)
    }
    if (body.bid === 'auto' && !this.autoBidAllowed) throw new UsageError('auto-bid is off in this daemon (setting autoBid); give a price instead')
    this.checkUsd(body.bid)
    this.checkUsd(body.floor)
  }

  /** A budget in BTT, or in USD at the price now (it is kept in BTT: what was authorised does not move with the price). */
  private inBtt (money: Money): bigint {
    if (!isUsdAmount(money)) return money
    const price = this.market?.prices?.usdPerBtt
    if (price === undefined) throw new UsageError('an amount in USD needs a BTT price: set usdPerBtt, or priceSourceUrl (and priceSourcePath)')
    const btt = moneyToBtt(money, price)
    this.log.info('amount in USD, in BTT', { given: formatMoney(money), btt: readableBtt(btt), usdPerBtt: this.market?.prices?.describe() })
    return btt
  }

  /** `add` or `seed` again on a torrent we have: its bid, budget and floor change as asked. */
  private async changeMarket (torrent: Torrent, body: MarketFields): Promise<void> {
    if (body.bid === undefined && body.floor === undefined && body.budget === undefined) return
    this.checkMarket(body)
    if (body.floor !== undefined) await this.applyFloor(torrent, body.floor)
    if (body.bid !== undefined) await this.applyBid(torrent, body.bid, body.budget, body.target)
    else if (body.budget !== undefined) await this.setBudget(torrent, this.inBtt(body.budget))
  }

  /** A USD quote needs a BTT price to be turned into BTT: refuse it plainly without one. */
  private checkUsd (quote: Quote | 'auto' | undefined): void {
    if (quote !== undefined && quote !== 'auto' && isUsd(quote) && !this.market?.prices?.configured) {
      throw new UsageError('a price in USD needs a BTT price: set usdPerBtt, or priceSourceUrl (and priceSourcePath)')
    }
  }

  /** What the stored vouchers and receipts say of each torrent's payments: its budget and books hold across restarts. */
  private async paymentsByTorrent (): Promise<Map<string, PaymentTotals>> {
    const totals = new Map<string, PaymentTotals>()
    if (!this.market) return totals
    const add = (infoHash: string, change: Partial<PaymentTotals>): void => {
      const known = totals.get(infoHash) ?? NO_PAYMENTS
      totals.set(infoHash, { committed: known.committed + (change.committed ?? 0n), signed: known.signed + (change.signed ?? 0n), accepted: known.accepted + (change.accepted ?? 0n) })
    }
    for (const voucher of await this.store.sentVouchers.all()) add(voucher.infoHash, { committed: BigInt(voucher.committed ?? voucher.amount), signed: BigInt(voucher.amount) })
    for (const receipt of await this.store.acceptedVouchers.all()) add(receipt.infoHash, { accepted: BigInt(receipt.amount) })
    return totals
  }

  private async paymentsOf (infoHash: string): Promise<PaymentTotals> {
    return (await this.paymentsByTorrent()).get(infoHash) ?? NO_PAYMENTS
  }

  private async marketFor (record: TorrentRecord, paymentsBefore: PaymentTotals): Promise<{ market?: (hooks: MarketHooks) => TorrentMarket }> {
    const config = this.market
    if (!config) return {}
    const auto = record.bid === 'auto'
    const options: TorrentMarketOptions = {
      bid: auto ? 0n : quoteFromText(record.bid ?? '0'),
      auto,
      budget: BigInt(record.budget ?? '0'),
      autoTarget: record.autoTarget ?? 0,
      floor: record.floor !== undefined ? quoteFromText(record.floor) : undefined
    }
    const { TorrentMarket } = await import('../market/torrent-market.js')
    return { market: (hooks) => new TorrentMarket(record.infoHash, config, options, paymentsBefore, hooks, this.log) }
  }

  /**
   * Changes a torrent's bid at once; 0 withdraws it. It spends from the torrent's budget, or from
   * the one given with it (which then replaces it); a bid with no budget at all is refused.
   */
  async setBid (id: string, input: unknown): Promise<TorrentView> {
    const torrent = this.find(id)
    const body = parseInput(bidRequestSchema, input)
    this.checkMarket({ bid: body.price, budget: body.budget })
    await this.applyBid(torrent, body.price, body.budget, body.target)
    return this.view(torrent)
  }

  private async applyBid (torrent: Torrent, price: Quote | 'auto', givenBudget: Money | undefined, target: number | undefined): Promise<void> {
    const market = torrent.market
    if (!market) throw new UsageError(MARKET_OFF)
    const budget = givenBudget !== undefined ? this.inBtt(givenBudget) : market.options.budget
    if (price !== 0n) {
      if (budget === 0n) throw new UsageError('this torrent has no budget: give one with --budget (the daemon never spends without one)')
      const { committed } = market.payments
      if (budget <= committed) throw new UsageError(`this torrent's budget of ${readableBtt(budget)} is spent (${readableBtt(committed)} committed): give a larger --budget`)
    }
    market.options.budget = budget
    market.options.auto = price === 'auto'
    if (target !== undefined) market.options.autoTarget = target
    // An auto bid starts at the next tick, from what the torrent sees then.
    if (price !== 'auto') market.setBid(price)
    await this.updateRecord(torrent.infoHash, { bid: price === 'auto' ? 'auto' : quoteText(price), budget: budget.toString(), ...(target !== undefined ? { autoTarget: target } : {}) })
  }

  private async setBudget (torrent: Torrent, budget: bigint): Promise<void> {
    torrent.market!.options.budget = budget
    await this.updateRecord(torrent.infoHash, { budget: budget.toString() })
  }

  /** Changes a torrent's floor at once (null: the daemon's default); connected bidders hear it at once. */
  async setFloor (id: string, input: unknown): Promise<TorrentView> {
    const torrent = this.find(id)
    const body = parseInput(floorRequestSchema, input)
    if (body.floor !== null) this.checkMarket({ floor: body.floor })
    await this.applyFloor(torrent, body.floor ?? undefined)
    return this.view(torrent)
  }

  private async applyFloor (torrent: Torrent, floor: Quote | undefined): Promise<void> {
    if (!torrent.market) throw new UsageError(MARKET_OFF)
    torrent.market.setFloor(floor)
    const record = await this.store.getTorrent(torrent.infoHash)
    if (record) {
      const { floor: _previous, ...rest } = record
      await this.store.putTorrent(floor === undefined ? rest : { ...rest, floor: quoteText(floor) })
    }
    this.log.info('floor changed', { infoHash: torrent.infoHash, floor: torrent.market.floor.toString() })
  }

  /**
   * Redeems every stored voucher now (on a chain: claims, whatever their size). `redeemed` is what
   * this call redeemed, per channel (the amount it added); `redemptions` is every channel's total.
   */
  async settle (): Promise<{ backend: string, redeemed: Array<RedemptionRecord & { added: string }>, redemptions: RedemptionRecord[], error?: string }> {
    if (!this.market) throw new UsageError('the market is off in this daemon: nothing to settle')
    const before = new Map((await this.market.settlement.redemptions()).map((record) => [record.channel, BigInt(record.amount)]))
    const settled = await this.market.settleNow()
    const redeemed = settled.redemptions.flatMap((record) => {
      const added = BigInt(record.amount) - (before.get(record.channel) ?? 0n)
      return added > 0n ? [{ ...record, added: added.toString() }] : []
    })
    return { backend: this.market.settlement.backend, redeemed, ...settled }
  }

  async earnings (): Promise<VoucherTotals> {
    return totalsOf(await this.store.receivedVouchers.all(), (voucher) => voucher.payer)
  }

  /** What sellers confirmed holding from us (their receipts), with what we signed beside it. */
  async spending (): Promise<VoucherTotals> {
    const accepted = new Map((await this.store.acceptedVouchers.all()).map((record) => [record.channel, record]))
    return totalsOf(await this.store.sentVouchers.all(), (voucher) => voucher.payee, accepted)
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
    for (const address of body.peers) torrent.addPeerAddress(address, true)
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
    torrent.events.on((event) => {
      if (event.type === 'metadata') this.storeMetadata(torrent.infoHash, event.meta)
      else if (event.type === 'complete') void this.saveResume(torrent)
    })
  }

  private storeMetadata (infoHash: string, meta: TorrentMeta): void {
    void this.updateRecord(infoHash, { name: meta.name, torrentFile: meta.torrentFile.toString('base64') })
      .catch((err: unknown) => this.log.error('cannot store metadata', { infoHash, error: errorMessage(err) }))
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
    return { ...status, magnet, market: torrent.market ? marketView(torrent.market) : null }
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

const MARKET_OFF = 'the market is off in this daemon: it needs a wallet ("bidtorrent wallet create") and $BIDTORRENT_PASSPHRASE when it starts'

interface MarketFields {
  readonly bid?: Quote | 'auto' | undefined
  readonly budget?: Money | undefined
  readonly target?: number | undefined
  readonly floor?: Quote | undefined
}

function marketView (market: TorrentMarket): TorrentMarketView {
  const { accepted, signed, committed } = market.payments
  return {
    bid: quoteText(market.options.bid),
    budget: market.options.budget.toString(),
    floor: market.floor.toString(),
    paid: accepted.toString(),
    signedNotAccepted: (signed > accepted ? signed - accepted : 0n).toString(),
    committed: committed.toString(),
    autoBid: market.autoBidView,
    sellers: market.sellers(),
    notices: market.notices(),
    trades: market.tradeTotals()
  }
}

function totalsOf (vouchers: readonly VoucherRecord[], counterpart: (voucher: VoucherRecord) => string, accepted?: ReadonlyMap<string, AcceptedRecord>): VoucherTotals {
  const torrents = new Map<string, VoucherRecord[]>()
  for (const voucher of vouchers) {
    const list = torrents.get(voucher.infoHash)
    if (list) list.push(voucher)
    else torrents.set(voucher.infoHash, [voucher])
  }
  let total = 0n
  let unconfirmed = 0n
  const rows = [...torrents].map(([infoHash, list]) => {
    let sum = 0n
    const peers = list.map((voucher): ChannelTotal => {
      const channel = { wallet: counterpart(voucher), vouchers: voucher.nonce, channel: voucher.channel }
      if (!accepted) {
        sum += BigInt(voucher.amount)
        return { ...channel, amount: voucher.amount }
      }
      // Spending: paid is what the seller confirmed; the rest of our latest voucher stands apart.
      const confirmed = BigInt(accepted.get(voucher.channel)?.amount ?? '0')
      const signed = BigInt(voucher.amount)
      const notAccepted = signed > confirmed ? signed - confirmed : 0n
      sum += confirmed
      unconfirmed += notAccepted
      return { ...channel, amount: confirmed.toString(), signed: voucher.amount, signedNotAccepted: notAccepted.toString() }
    })
    total += sum
    return { infoHash, total: sum.toString(), peers }
  })
  return { total: total.toString(), ...(accepted ? { signedNotAccepted: unconfirmed.toString() } : {}), torrents: rows }
}

/** Pieces named by either record (base64 bitfields of one torrent), or undefined if neither exists. */
function orBitfields (...records: Array<{ bitfield: string } | undefined>): Buffer | undefined {
  const fields = records.filter((record): record is { bitfield: string } => record !== undefined).map((record) => Buffer.from(record.bitfield, 'base64'))
  if (fields.length === 0) return undefined
  const union = Buffer.alloc(Math.max(...fields.map((field) => field.length)))
  for (const field of fields) for (let i = 0; i < field.length; i++) union[i]! |= field[i]!
  return union
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
