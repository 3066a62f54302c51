import type { SyncedTable } from '../store/synced-table.js'
import type { ClaimTable } from './claims.js'
import type { AcceptedRecord, FundedChannelRecord, PaidPiecesRecord, RedemptionRecord, VoucherRecord } from './records.js'

/**
 * The tables settlement works on, each as narrow as its user needs: the daemon's store
 * (src/daemon/store.ts) holds them all and satisfies every one.
 */

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

/** What a chain wallet reads and writes: the channels it funded, and the vouchers and receipts on them. */
export interface ChannelStore extends Pick<VoucherStore, 'receivedVouchers' | 'sentVouchers' | 'acceptedVouchers'> {
  readonly fundedChannels: SyncedTable<FundedChannelRecord>
}

/** Everything the settlement backends keep: the vouchers, the channels funded, and the chain backends' claim queue. */
export interface SettlementStore extends VoucherStore, ChannelStore {
  /** The chain backends' durable claim queue (claims.ts). */
  readonly claims: ClaimTable
}
