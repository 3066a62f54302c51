import { BYTES_PER_PRICE_UNIT, amountFor } from '../money/price.js'

/**
 * What two peers owe each other, in base units: pure data and pure functions, with no notion of
 * signatures, channels or chains (settlement turns vouchers into `paid`/`received`).
 *
 * Charges accumulate as bytes × price per MiB and are rounded once, on the running total, so what
 * is owed is always exactly floor(Σ bytes × rate / MiB).
 */
export interface PeerLedger {
  /** We download: Σ verified bytes × agreed rate, for data the peer sent us. */
  readonly boughtByteRate: bigint
  /** Verified bytes we owe for (at any rate, free slots included). */
  readonly boughtBytes: number
  /** Cumulative amount of our latest voucher to the peer. */
  readonly paid: bigint
  /** We upload: Σ bytes sent × the rate we quoted. */
  readonly soldByteRate: bigint
  readonly soldBytes: number
  /** Cumulative amount of the best voucher the peer has given us. */
  readonly received: bigint
}

export const EMPTY_LEDGER: PeerLedger = { boughtByteRate: 0n, boughtBytes: 0, paid: 0n, soldByteRate: 0n, soldBytes: 0, received: 0n }

export interface DebtThresholds {
  /** Past this debt a peer is asked to pay. */
  readonly payment: bigint
  /** Past this debt a peer is choked until it pays. */
  readonly disconnect: bigint
}

/** Swarm's rule: the disconnect threshold sits a tolerance above the payment threshold (25% by default). */
export function thresholdsFrom (payment: bigint, tolerancePercent = 25): DebtThresholds {
  if (payment <= 0n) throw new RangeError('the payment threshold must be above zero')
  if (!Number.isInteger(tolerancePercent) || tolerancePercent < 0 || tolerancePercent > 1000) throw new RangeError('the payment tolerance is a whole percentage from 0 to 1000')
  return { payment, disconnect: payment + payment * BigInt(tolerancePercent) / 100n }
}

/**
 * The thresholds in force for a peer paying `rate` per MiB: never less credit than `creditBytes` of
 * data at that rate. A bidder pays per verified piece, so a threshold worth less than the data in
 * flight would choke it after every block; the tolerance above the payment threshold scales along.
 */
export function thresholdsAtRate (thresholds: DebtThresholds, rate: bigint, creditBytes: number): DebtThresholds {
  const least = amountFor(rate * BigInt(creditBytes))
  if (least <= thresholds.payment) return thresholds
  return { payment: least, disconnect: least + (thresholds.disconnect - thresholds.payment) * least / thresholds.payment }
}

function checkedBytes (bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bytes must be a whole number, not ${bytes}`)
  return bytes
}

function checkedRate (rate: bigint): bigint {
  if (rate < 0n) throw new RangeError('a rate cannot be negative')
  return rate
}

/** The downloader: a piece passed its hash check and `bytes` of it came from this peer at `rate`. */
export function recordVerified (ledger: PeerLedger, bytes: number, rate: bigint): PeerLedger {
  return { ...ledger, boughtByteRate: ledger.boughtByteRate + BigInt(checkedBytes(bytes)) * checkedRate(rate), boughtBytes: ledger.boughtBytes + bytes }
}

/** The seeder: `bytes` left for this peer while it paid `rate`. */
export function recordSent (ledger: PeerLedger, bytes: number, rate: bigint): PeerLedger {
  return { ...ledger, soldByteRate: ledger.soldByteRate + BigInt(checkedBytes(bytes)) * checkedRate(rate), soldBytes: ledger.soldBytes + bytes }
}

/** Everything we owe the peer so far (cumulative): the amount of the voucher that settles it. */
export function totalOwed (ledger: PeerLedger): bigint {
  return amountFor(ledger.boughtByteRate)
}

/** What we owe the peer beyond our last voucher. */
export function unpaid (ledger: PeerLedger): bigint {
  return totalOwed(ledger) - ledger.paid
}

export function totalCharged (ledger: PeerLedger): bigint {
  return amountFor(ledger.soldByteRate)
}

/** What the peer owes us beyond the best voucher it gave us (never negative: overpayment is credit). */
export function debt (ledger: PeerLedger): bigint {
  const owed = totalCharged(ledger) - ledger.received
  return owed > 0n ? owed : 0n
}

/** Our voucher for `amount` (cumulative) is out: cumulative amounts only ever grow. */
export function recordPaid (ledger: PeerLedger, amount: bigint): PeerLedger {
  if (amount < ledger.paid) throw new RangeError('a payment cannot lower the cumulative amount paid')
  return { ...ledger, paid: amount }
}

/**
 * The peer refused our latest voucher and holds an older one for `amount`: the next voucher starts
 * from what it holds (the refused one is void; cumulative amounts make it harmless).
 */
export function rewindPaid (ledger: PeerLedger, amount: bigint): PeerLedger {
  if (amount < 0n) throw new RangeError('an amount cannot be negative')
  return { ...ledger, paid: amount }
}

/** A verified voucher for `amount` (cumulative) arrived; an older or smaller one changes nothing. */
export function recordReceived (ledger: PeerLedger, amount: bigint): PeerLedger {
  return amount > ledger.received ? { ...ledger, received: amount } : ledger
}

export type DebtStanding = 'clear' | 'payment-due' | 'cut-off'

export function standing (ledger: PeerLedger, thresholds: DebtThresholds): DebtStanding {
  const owed = debt(ledger)
  if (owed > thresholds.disconnect) return 'cut-off'
  if (owed >= thresholds.payment) return 'payment-due'
  return 'clear'
}

/**
 * A channel continues from its stored voucher (a reconnect, a restart): what that voucher paid
 * counts as bought and paid, so the next voucher adds only what is verified from now on. Additive, so
 * bytes verified while the voucher was being read are kept.
 */
export function continuePaid (ledger: PeerLedger, amount: bigint): PeerLedger {
  return { ...ledger, boughtByteRate: ledger.boughtByteRate + amount * BYTES_PER_PRICE_UNIT, paid: ledger.paid > amount ? ledger.paid : amount }
}

/** The seller's side of `continuePaid`: the stored voucher's amount counts as charged and received. */
export function continueReceived (ledger: PeerLedger, amount: bigint): PeerLedger {
  return { ...ledger, soldByteRate: ledger.soldByteRate + amount * BYTES_PER_PRICE_UNIT, received: ledger.received > amount ? ledger.received : amount }
}
