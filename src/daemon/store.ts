import type { FilePriority, FileSelectionSpec } from '../engine/file-selection.js'
import type { ClaimRecord } from '../settlement/claims.js'
import type { SeedLimitChoice } from './seed-limits.js'
import type { AcceptedRecord, FundedChannelRecord, PaidPiecesRecord, RedemptionRecord, VoucherRecord } from '../settlement/records.js'
import type { SettlementStore } from '../settlement/voucher-store.js'
import { SyncedDatabase } from '../store/database.js'
import type { SyncedTable } from '../store/synced-table.js'

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
  /** The user's files' priorities (pad files not counted), once chosen and the metadata known. */
  readonly filePriorities?: readonly FilePriority[]
  /** A selection given with a magnet link, applied when the metadata arrives. */
  readonly fileSelection?: FileSelectionSpec
  /** Initial seeding (BEP 16) while complete. */
  readonly superSeed?: boolean
  /** The user's labels (Transmission's and qBittorrent's): short, no commas. */
  readonly labels?: readonly string[]
  /** Seed limits: absent = the daemon's (seedRatioLimit, seedIdleLimit); the idle limit in seconds. */
  readonly seedRatio?: SeedLimitChoice
  readonly seedIdle?: SeedLimitChoice
  /** Bytes uploaded in every run, as of the last save: the seed ratio counts them all (Transmission's uploadedEver). */
  readonly uploadedEver?: number
  /** Why the daemon stopped it (a seed limit reached), until the user starts it again. */
  readonly stoppedBy?: string
}

export interface ResumeRecord {
  /** Verified pieces whose data was synced to disk before this record was written. */
  readonly bitfield: string
  readonly savedAt: string
}

/**
 * The daemon's durable state in `level`; every write is synced before it is acknowledged. It
 * holds the daemon's own tables (torrents, resume data) and settlement's (its records, src/settlement).
 */
export class StateStore implements SettlementStore {
  private readonly db: SyncedDatabase
  private readonly torrents: SyncedTable<TorrentRecord>
  private readonly resume: SyncedTable<ResumeRecord>
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

  constructor (path: string) {
    // The sublevels' names are on disk: existing databases open only under these.
    this.db = new SyncedDatabase(path)
    this.torrents = this.db.table('torrents')
    this.resume = this.db.table('resume')
    this.receivedVouchers = this.db.table('vouchers-received')
    this.sentVouchers = this.db.table('vouchers-sent')
    this.acceptedVouchers = this.db.table('vouchers-accepted')
    this.redemptions = this.db.table('embedded-redeemed')
    this.paidPieces = this.db.table('paid-pieces')
    this.recentPieces = this.db.table('pieces-recent')
    this.claims = this.db.table('claims')
    this.fundedChannels = this.db.table('channels-funded')
  }

  async storeSentVoucher (voucher: VoucherRecord, paidPieces: PaidPiecesRecord): Promise<void> {
    await this.db.batch([
      this.sentVouchers.putOperation(voucher.channel, voucher),
      this.paidPieces.putOperation(voucher.infoHash, paidPieces)
    ])
  }

  /** Throws ELOCKED where another daemon holds the state, ESTATE where it cannot be read. */
  async open (): Promise<void> {
    await this.db.open()
  }

  async close (): Promise<void> {
    await this.db.close()
  }

  async allTorrents (): Promise<TorrentRecord[]> {
    return this.torrents.all()
  }

  async putTorrent (record: TorrentRecord): Promise<void> {
    await this.torrents.put(record.infoHash, record)
  }

  async getTorrent (infoHash: string): Promise<TorrentRecord | undefined> {
    return this.torrents.get(infoHash)
  }

  async deleteTorrent (infoHash: string): Promise<void> {
    await this.db.batch([
      this.torrents.delOperation(infoHash),
      this.resume.delOperation(infoHash),
      this.paidPieces.delOperation(infoHash),
      this.recentPieces.delOperation(infoHash)
    ])
  }

  async getResume (infoHash: string): Promise<ResumeRecord | undefined> {
    return this.resume.get(infoHash)
  }

  async deleteResume (infoHash: string): Promise<void> {
    await this.db.batch([this.resume.delOperation(infoHash)])
  }

  async putResume (infoHash: string, record: ResumeRecord): Promise<void> {
    await this.resume.put(infoHash, record)
  }
}
