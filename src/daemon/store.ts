import { Level } from 'level'
import type { ClaimRecord } from '../settlement/claims.js'
import { BidtorrentError, errorMessage } from '../util/errors.js'

/** What the daemon remembers about a torrent across restarts. */
export interface TorrentRecord {
  readonly infoHash: string
  readonly name: string
  readonly directory: string
  /** The .torrent file (base64) once metadata is known. */
  readonly torrentFile?: string
  readonly magnet?: string
  readonly paused: boolean
  readonly addedAt: string
  readonly uploadLimit: number
  readonly downloadLimit: number
  readonly peers: readonly string[]
  /** Market options (base units, decimal strings): a bid per MiB and a budget to buy, a floor to sell. */
  readonly bid?: string
  readonly budget?: string
  readonly floor?: string
  /** With an auto bid: the download rate wanted, bytes per second. */
  readonly autoTarget?: number
}

export interface ResumeRecord {
  /** Verified pieces whose data was synced to disk before this record was written. */
  readonly bitfield: string
  readonly savedAt: string
}

/** A voucher as stored: the best one received on a channel, or the latest one we signed. */
export interface VoucherRecord {
  /** 32-byte channel id, hex. */
  readonly channel: string
  readonly infoHash: string
  readonly backend: string
  /** TRON addresses. */
  readonly payer: string
  readonly payee: string
  readonly chainId: number
  readonly nonce: number
  /** Cumulative amount, base units, decimal. */
  readonly amount: string
  /** 65 bytes, hex. */
  readonly signature: string
  readonly at: string
  /**
   * On a voucher we signed: the most we ever signed on the channel (base units, decimal), where
   * that is more than this voucher (a refused one was signed again for less). The budget counts it.
   */
  readonly committed?: string
}

/** A seller's receipt for our channel to it: the voucher it holds, stored on its side (protocol v2). */
export interface AcceptedRecord {
  readonly channel: string
  readonly infoHash: string
  /** TRON address of the seller. */
  readonly payee: string
  readonly nonce: number
  /** Cumulative, base units, decimal. */
  readonly amount: string
  readonly at: string
}

/**
 * The torrent's verified pieces when its latest voucher was signed. Written with the voucher in one
 * synced batch: after a crash, pieces paid for but not yet in the resume data are checked on disk
 * rather than fetched (and paid for) again.
 */
export interface PaidPiecesRecord {
  /** Base64 bitfield. */
  readonly bitfield: string
  readonly at: string
}

/**
 * A channel this wallet funded on a chain, written before the deposit is sent: `bidtorrent
 * channels` lists it even where the chain's events cannot be read (a TRON full node serves none).
 */
export interface FundedChannelRecord {
  readonly channel: string
  readonly infoHash: string
  /** TRON address. */
  readonly payee: string
  readonly backend: string
  readonly chainId: number
  readonly at: string
}

/** What the embedded backend has redeemed on a channel (cumulative, base units, decimal). */
export interface RedemptionRecord {
  readonly channel: string
  readonly amount: string
  readonly nonce: number
  readonly at: string
}

/** The daemon's durable state in `level`; every write is synced before it is acknowledged. */
export class StateStore implements VoucherStore {
  private readonly db: Level<string, unknown>
  private readonly torrents
  private readonly resume
  readonly receivedVouchers: SyncedTable<VoucherRecord>
  readonly sentVouchers: SyncedTable<VoucherRecord>
  readonly acceptedVouchers: SyncedTable<AcceptedRecord>
  readonly redemptions: SyncedTable<RedemptionRecord>
  readonly paidPieces: SyncedTable<PaidPiecesRecord>
  /** Each torrent's verified pieces as of moments ago (not synced): checked on disk after a crash. */
  readonly recentPieces: SyncedTable<PaidPiecesRecord>
  /** The chain backends' durable claim queue (src/settlement/claims.ts). */
  readonly claims: SyncedTable<ClaimRecord>
  readonly fundedChannels: SyncedTable<FundedChannelRecord>

  constructor (private readonly path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: 'json' })
    this.torrents = this.db.sublevel<string, TorrentRecord>('torrents', { valueEncoding: 'json' })
    this.resume = this.db.sublevel<string, ResumeRecord>('resume', { valueEncoding: 'json' })
    this.receivedVouchers = new SyncedTable(this.db, this.db.sublevel('vouchers-received', { valueEncoding: 'json' }))
    this.sentVouchers = new SyncedTable(this.db, this.db.sublevel('vouchers-sent', { valueEncoding: 'json' }))
    this.acceptedVouchers = new SyncedTable(this.db, this.db.sublevel('vouchers-accepted', { valueEncoding: 'json' }))
    this.redemptions = new SyncedTable(this.db, this.db.sublevel('embedded-redeemed', { valueEncoding: 'json' }))
    this.paidPieces = new SyncedTable(this.db, this.db.sublevel('paid-pieces', { valueEncoding: 'json' }))
    this.recentPieces = new SyncedTable(this.db, this.db.sublevel('pieces-recent', { valueEncoding: 'json' }))
    this.claims = new SyncedTable(this.db, this.db.sublevel('claims', { valueEncoding: 'json' }))
    this.fundedChannels = new SyncedTable(this.db, this.db.sublevel('channels-funded', { valueEncoding: 'json' }))
  }

  async storeSentVoucher (voucher: VoucherRecord, paidPieces: PaidPiecesRecord): Promise<void> {
    await this.db.batch([
      this.sentVouchers.putOperation(voucher.channel, voucher),
      this.paidPieces.putOperation(voucher.infoHash, paidPieces)
    ], { sync: true })
  }

  async open (): Promise<void> {
    try {
      await this.db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new BidtorrentError('ELOCKED', 'another bidtorrent daemon is already using this data directory')
      }
      throw new BidtorrentError('ESTATE', `cannot open the daemon's state in ${this.path} (${errorMessage(cause ?? err)}); it is left as it is: restore that folder from a backup, or move it aside to start with no torrents`)
    }
  }

  async close (): Promise<void> {
    await this.db.close()
  }

  async allTorrents (): Promise<TorrentRecord[]> {
    return this.torrents.values().all()
  }

  async putTorrent (record: TorrentRecord): Promise<void> {
    await this.db.batch([{ type: 'put', key: record.infoHash, value: record, sublevel: this.torrents }], { sync: true })
  }

  async getTorrent (infoHash: string): Promise<TorrentRecord | undefined> {
    return this.torrents.get(infoHash)
  }

  async deleteTorrent (infoHash: string): Promise<void> {
    await this.db.batch([
      { type: 'del', key: infoHash, sublevel: this.torrents },
      { type: 'del', key: infoHash, sublevel: this.resume },
      this.paidPieces.delOperation(infoHash),
      this.recentPieces.delOperation(infoHash)
    ], { sync: true })
  }

  async getResume (infoHash: string): Promise<ResumeRecord | undefined> {
    return this.resume.get(infoHash)
  }

  async putResume (infoHash: string, record: ResumeRecord): Promise<void> {
    await this.db.batch([{ type: 'put', key: infoHash, value: record, sublevel: this.resume }], { sync: true })
  }
}

type Sublevel = ReturnType<Level<string, unknown>['sublevel']>

/** One sublevel of records by key, every write synced before it resolves. */
export class SyncedTable<V> {
  constructor (private readonly db: Level<string, unknown>, private readonly table: Sublevel) {}

  async get (key: string): Promise<V | undefined> {
    return await this.table.get(key) as V | undefined
  }

  async put (key: string, value: V): Promise<void> {
    await this.db.batch([this.putOperation(key, value)], { sync: true })
  }

  /**
   * Written without waiting for the disk: it survives the process being killed (LevelDB hands it to
   * the OS at once), not a power cut. For records that the network restores anyway (a receipt is
   * sent again on the next connection).
   */
  async putEventually (key: string, value: V): Promise<void> {
    await this.db.batch([this.putOperation(key, value)], { sync: false })
  }

  /** For a batch that writes several tables at once. */
  putOperation (key: string, value: V): { type: 'put', key: string, value: unknown, sublevel: Sublevel } {
    return { type: 'put', key, value, sublevel: this.table }
  }

  delOperation (key: string): { type: 'del', key: string, sublevel: Sublevel } {
    return { type: 'del', key, sublevel: this.table }
  }

  async all (): Promise<V[]> {
    return await this.table.values().all() as V[]
  }

  /** The records whose keys start with `prefix`, in key order. */
  async withPrefix (prefix: string): Promise<V[]> {
    return await this.table.values({ gte: prefix, lt: `${prefix}\uffff` }).all() as V[]
  }
}

/** The vouchers of the bandwidth market, one record per channel in each table. */
export interface VoucherStore {
  /** The best voucher received on each channel (we sell). */
  readonly receivedVouchers: SyncedTable<VoucherRecord>
  /** The latest voucher we signed on each channel, stored before it is sent (we buy). */
  readonly sentVouchers: SyncedTable<VoucherRecord>
  /** The latest receipt each seller gave for our channel to it: what it accepted (we buy). */
  readonly acceptedVouchers: SyncedTable<AcceptedRecord>
  /** What the embedded backend has redeemed on each channel. */
  readonly redemptions: SyncedTable<RedemptionRecord>
  /** The pieces each torrent's latest voucher paid for. */
  readonly paidPieces: SyncedTable<PaidPiecesRecord>
  /** Stores a voucher we signed together with the pieces it pays for, in one synced write. */
  storeSentVoucher (voucher: VoucherRecord, paidPieces: PaidPiecesRecord): Promise<void>
}
