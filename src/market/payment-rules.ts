import type { ReceiptMessage, RejectMessage } from './codec.js'
import type { Counterparty } from './counterparties.js'

/**
 * The buyer's payment rules, pure: how much the next voucher to a seller may say, what a receipt
 * may be believed, and when a seller's refusals mean it is not paid again. The buyer's payments
 * (buyer-payments.ts) apply them; nothing here stores, signs or sends.
 */

/** A seller that refuses this many vouchers in a row without accepting one is not paid again. */
const MAX_REFUSALS = 3

/** Refusals that no new voucher can mend: the seller cannot take our vouchers at all. */
const FINAL_REFUSALS = new Set<RejectMessage['code']>(['bad-signature', 'unknown-channel', 'unsupported-backend', 'wrong-chain', 'self-trade'])

/** What the budget has left beyond what this torrent committed (0 once it is spent). */
export function budgetLeft (budget: bigint, committed: bigint): bigint {
  return budget > committed ? budget - committed : 0n
}

/**
 * The most a voucher to this seller may say. On a chain (`locksFunds`), our deposit as we funded
 * it: the seller reads the chain again for a voucher above the deposit it last read, so a top-up
 * counts at once. Elsewhere, what the seller said it accepts (its credit cap).
 */
export function voucherLimit (counterparty: Pick<Counterparty, 'channelFunds' | 'sellerLimit'>, locksFunds: boolean): bigint | undefined {
  if (locksFunds) return counterparty.channelFunds ?? counterparty.sellerLimit
  return counterparty.sellerLimit
}

/** The next voucher's amount, and whether the budget or the seller's limit held it below what is owed. */
export interface VoucherPlan {
  readonly amount: bigint
  /** The budget has no room for all that is owed. */
  readonly budgetShort: boolean
  /** What the budget allows passes the seller's limit: `amount` is that limit. */
  readonly limitShort: boolean
}

/**
 * What the next voucher says: everything owed, but never past the budget's room on this channel
 * (what it already committed there plus the budget left), and never past the seller's limit (it
 * would refuse the voucher) or the deposit.
 */
export function planVoucher (owed: bigint, room: bigint, limit: bigint | undefined): VoucherPlan {
  const budgetShort = owed > room
  const affordable = budgetShort ? room : owed
  const limitShort = limit !== undefined && affordable > limit
  return { amount: limitShort ? limit : affordable, budgetShort, limitShort }
}

/** The next voucher's nonce: above every voucher we signed and every one the seller says it holds. */
export function nextNonce (counterparty: Pick<Counterparty, 'latestSent' | 'accepted'>): number {
  return Math.max(counterparty.latestSent?.nonce ?? 0, counterparty.accepted.nonce) + 1
}

/** A receipt for more than we ever signed, or for a nonce we never used: nothing is taken on the seller's word alone. */
export function namesUnsignedVoucher (receipt: Pick<ReceiptMessage, 'amount' | 'nonce'>, counterparty: Pick<Counterparty, 'committed' | 'latestSent'>): boolean {
  return receipt.amount > counterparty.committed || receipt.nonce > (counterparty.latestSent?.nonce ?? 0)
}

/** Whether a seller's refusal of a voucher (the `refusals`-th in a row) means it is not paid again. */
export function refusesForGood (code: RejectMessage['code'], refusals: number): boolean {
  return FINAL_REFUSALS.has(code) || refusals > MAX_REFUSALS
}
