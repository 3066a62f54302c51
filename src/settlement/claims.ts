import type { SyncedTable } from '../store/synced-table.js'
import type { VoucherRecord } from './records.js'
import { signedVoucherOf } from '../money/voucher.js'
import type { ChannelChain, SignedTransaction } from './chain.js'

/**
 * One claim of one voucher, as the durable queue records it. Each step is written before the next
 * begins: the decision (with the transaction already signed) before anything is sent, the hash
 * is part of that decision, and the outcome once the chain has it. A restart resumes every record
 * that is not final and never makes a second, different transaction for the same claim.
 */
export interface ClaimRecord {
  readonly channel: string
  readonly nonce: number
  readonly amount: string
  readonly signature: string
  readonly state: 'decided' | 'sent' | 'confirmed' | 'failed'
  readonly transaction?: SignedTransaction
  readonly decidedAt: string
  readonly sentAt?: string
  readonly confirmedAt?: string
  readonly blockNumber?: number
  /** Why it failed, or that someone else's transaction already claimed as much. */
  readonly note?: string
}

export type ClaimTable = SyncedTable<ClaimRecord>

const keyOf = (channel: string, nonce: number): string => `${channel}:${String(nonce).padStart(20, '0')}`

/**
 * The durable claim queue: takes vouchers to claim, and drives each claim to a final state through
 * a chain that may be slow, dead, or restarted under it. Steps run one at a time. Any step may
 * fail (a dead endpoint): the record keeps its state and the next `run` picks it up again.
 */
export class ClaimQueue {
  /** Runs go one after another: two at once could both sign the same decided claim. */
  private tail: Promise<void> = Promise.resolve()

  constructor (private readonly table: ClaimTable, private readonly chain: ChannelChain) {}

  /** Decides to claim `voucher`, unless a claim of it (or of a later voucher) is already recorded. Durable on return. */
  async decide (voucher: VoucherRecord): Promise<ClaimRecord | undefined> {
    for (const record of await this.records(voucher.channel)) {
      if (record.state !== 'failed' && record.nonce >= voucher.nonce) return undefined
    }
    const record: ClaimRecord = { channel: voucher.channel, nonce: voucher.nonce, amount: voucher.amount, signature: voucher.signature, state: 'decided', decidedAt: new Date().toISOString() }
    await this.table.put(keyOf(record.channel, record.nonce), record)
    return record
  }

  /** Unfinished claims, on every channel or on one. */
  async pending (channel?: string): Promise<ClaimRecord[]> {
    return (await this.records(channel)).filter((record) => record.state === 'decided' || record.state === 'sent')
  }

  /** Every claim recorded, or those on one channel (keys start with the channel id). */
  async records (channel?: string): Promise<ClaimRecord[]> {
    return channel === undefined ? this.table.all() : this.table.withPrefix(`${channel}:`)
  }

  /**
   * Drives every unfinished claim (on one channel, or on all) as far as the chain allows now;
   * throws what stopped it (the records stay). A run starts after the one before it ends, so it
   * sees every claim decided before it was asked for.
   */
  async run (channel?: string): Promise<void> {
    const run = this.tail.then(async () => {
      for (const record of await this.pending(channel)) await this.advance(record)
    })
    this.tail = run.catch(() => {})
    return run
  }

  /** A transaction past its expiration can never be mined: only then may another one replace it. */
  private async expired (record: ClaimRecord): Promise<boolean> {
    const expiresAt = record.transaction?.expiresAt
    return expiresAt !== undefined && (await this.chain.now()) * 1000 > expiresAt
  }

  private async signAgain (record: ClaimRecord): Promise<ClaimRecord> {
    const { transaction: _expired, ...rest } = record
    return this.save({ ...rest, state: 'decided', note: `transaction ${_expired?.hash ?? ''} expired unmined; signing the claim again` })
  }

  private async save (record: ClaimRecord): Promise<ClaimRecord> {
    await this.table.put(keyOf(record.channel, record.nonce), record)
    return record
  }

  private async advance (start: ClaimRecord): Promise<void> {
    let record = start
    for (let steps = 0; steps < 4 && (record.state === 'decided' || record.state === 'sent'); steps++) {
      const next = await this.step(record)
      if (next === record) return
      record = next
    }
  }

  private async step (record: ClaimRecord): Promise<ClaimRecord> {
    if (record.state === 'decided' && !record.transaction) {
      const onChain = await this.chain.channel(record.channel)
      if (!onChain) return this.save({ ...record, state: 'failed', note: 'no such channel on chain' })
      if (onChain.nonce >= record.nonce || onChain.claimed >= BigInt(record.amount)) {
        return this.save({ ...record, state: 'confirmed', confirmedAt: new Date().toISOString(), note: `already claimed on chain up to ${onChain.claimed}` })
      }
      // Signed and written down before it is sent: a crash from here on re-sends this very transaction.
      return this.save({ ...record, transaction: await this.chain.signClaim(signedVoucherOf(record)) })
    }
    if (record.state === 'decided') {
      if (await this.expired(record)) return this.signAgain(record)
      await this.chain.broadcast(record.transaction!)
      return this.save({ ...record, state: 'sent', sentAt: new Date().toISOString() })
    }
    const outcome = await this.chain.outcome(record.transaction!.hash)
    if (!outcome) {
      if (await this.expired(record)) return this.signAgain(record)
      // Not mined (yet, or dropped): sending the same signed transaction again is harmless.
      await this.chain.broadcast(record.transaction!)
      return record
    }
    if (outcome.status === 'success') {
      return this.save({ ...record, state: 'confirmed', confirmedAt: new Date().toISOString(), blockNumber: outcome.blockNumber })
    }
    const onChain = await this.chain.channel(record.channel)
    if (onChain && onChain.claimed >= BigInt(record.amount)) {
      return this.save({ ...record, state: 'confirmed', confirmedAt: new Date().toISOString(), blockNumber: outcome.blockNumber, note: 'claimed by another transaction' })
    }
    return this.save({ ...record, state: 'failed', blockNumber: outcome.blockNumber, note: 'the claim transaction reverted' })
  }
}
