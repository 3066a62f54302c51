/**
 * The records settlement keeps: vouchers received and signed, the sellers' receipts, what was
 * redeemed, the pieces a voucher paid for, and the channels funded. Stored as JSON in the daemon's
 * database (src/store): a field renamed here is a field lost on disk.
 */

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
