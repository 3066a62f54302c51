import { readableBtt } from '../money/price.js'
import { NO_CONTRACT, type VoucherDomain } from '../money/voucher.js'
import type { RedemptionRecord, VoucherRecord } from './records.js'
import type { Settlement } from './settlement.js'
import type { VoucherStore } from './voucher-store.js'

/**
 * Settlement without a chain: vouchers are redeemed into the daemon's own ledger in `level`. They are
 * unbacked IOUs (nothing is locked anywhere), so each channel may owe at most the configured credit
 * cap. For quick starts, tests and swarms whose members trust each other.
 */
export class EmbeddedSettlement implements Settlement {
  readonly backend = 'embedded' as const
  readonly description: string
  readonly domain: VoucherDomain

  constructor (private readonly store: VoucherStore, private readonly creditCap: bigint, chainId: number) {
    this.domain = { chainId, verifyingContract: NO_CONTRACT }
    this.description = `embedded: unbacked IOUs in this daemon's ledger, at most ${readableBtt(creditCap)} per channel`
  }

  async fundsOf (_channel: string): Promise<bigint> {
    return this.creditCap
  }

  async redeem (voucher: VoucherRecord): Promise<RedemptionRecord> {
    const previous = await this.store.redemptions.get(voucher.channel)
    if (previous && BigInt(previous.amount) >= BigInt(voucher.amount)) return previous
    const record: RedemptionRecord = { channel: voucher.channel, amount: voucher.amount, nonce: voucher.nonce, at: new Date().toISOString() }
    await this.store.redemptions.put(record.channel, record)
    return record
  }

  async redemptions (): Promise<RedemptionRecord[]> {
    return this.store.redemptions.all()
  }
}
