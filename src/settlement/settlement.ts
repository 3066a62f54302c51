import type { RedemptionRecord, VoucherRecord } from '../daemon/store.js'
import type { Backend } from '../market/codec.js'

/**
 * Where vouchers become money. Accounting (src/accounting) knows nothing of this; the market asks a
 * settlement backend what a channel can pay and hands it every voucher it has verified and stored.
 */
export interface Settlement {
  readonly backend: Backend
  /** One line for users and logs, saying plainly what backs a payment. */
  readonly description: string
  /** The most the channel can pay (deposit or credit), in base units. */
  fundsOf (channel: string): Promise<bigint>
  /** Redeems a stored voucher. Idempotent: redeeming the same or an older voucher again changes nothing. */
  redeem (voucher: VoucherRecord): Promise<RedemptionRecord>
  redemptions (): Promise<RedemptionRecord[]>
}
