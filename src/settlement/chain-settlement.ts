import type { Logger } from 'winston'
import { accountBytes, tronAddressOf } from '../money/address.js'
import { readableBtt } from '../money/price.js'
import { channelIdFor, signedVoucherOf, type VoucherDomain } from '../money/voucher.js'
import { errorMessage } from '../util/errors.js'
import type { ClaimQueue } from './claims.js'
import type { RedemptionRecord, VoucherRecord } from './records.js'
import type { Settlement, SettlementHealth } from './settlement.js'
import type { ChannelChain, OnChainChannel } from './chain.js'

export interface ChainSettlementOptions {
  /** Claim once the claimable amount reaches this. */
  readonly minClaim: bigint
  /** And once it is worth this many times the claim's fee, where the chain can tell (0: no fee check). */
  readonly claimFeeMultiple?: number
  /**
   * Claim regardless of the amount when the channel's expiry is this close, or a refund is pending;
   * and accept no new voucher on a channel that close to its end.
   */
  readonly safetySeconds: number
  /** Our account, in any address form: the payee of the channels we sell on, the payer of those we buy on. */
  readonly account: string
  /** How long a channel we open or top up stays open, in seconds. */
  readonly channelLifetimeSeconds: number
  /** Writes down a channel we are about to fund, before the deposit is sent (see recordFunding). */
  readonly recordFunding?: (payee: string, infoHash: string) => Promise<void>
}

/**
 * Settlement on a chain, EVM (BTTC, the local development chain) or TRON: before a voucher counts, the
 * channel's deposit is read from the contract; stored vouchers are claimed through the durable
 * claim queue when the claim is worth the fee, and always before the channel's end. A dead or slow
 * endpoint pauses claims (the queue keeps every step) and the market keeps serving within what the
 * deposits last read cover.
 */
export class ChainSettlement implements Settlement {
  readonly description: string
  readonly domain: VoucherDomain
  /** The last channel state read from the chain, for when the endpoint is down. */
  private readonly lastSeen = new Map<string, OnChainChannel>()
  /** Our account's 20 bytes: a channel backs our vouchers only if it pays them. */
  private readonly account: Buffer
  private chainErrors = 0

  constructor (
    readonly backend: 'evm' | 'tron',
    private readonly chain: ChannelChain,
    private readonly queue: ClaimQueue,
    private readonly options: ChainSettlementOptions,
    private readonly log: Logger
  ) {
    this.domain = { chainId: chain.chainId, verifyingContract: chain.contract }
    this.account = Buffer.from(accountBytes(options.account))
    this.description = `${backend}: channel contract ${chain.contract} on chain ${chain.chainId}; claims from ${readableBtt(options.minClaim)}${options.claimFeeMultiple ? ` and ${options.claimFeeMultiple}× their fee` : ''}${chain.describe ? `; ${chain.describe}` : ''}`
  }

  private async read (channel: string): Promise<OnChainChannel | undefined> {
    try {
      const found = await this.chain.channel(channel)
      if (found) this.lastSeen.set(channel, found)
      else this.lastSeen.delete(channel)
      return found
    } catch (err) {
      this.chainErrors++
      const known = this.lastSeen.get(channel)
      this.log.warn('the chain endpoint failed; using the channel as last read', { channel, error: errorMessage(err), known: known !== undefined })
      return known
    }
  }

  /** A chain step that throws to its caller still counts as a chain error. */
  private async counted<T> (step: () => Promise<T>): Promise<T> {
    try {
      return await step()
    } catch (err) {
      this.chainErrors++
      throw err
    }
  }

  async health (): Promise<SettlementHealth> {
    return { pendingClaims: (await this.queue.pending()).length, chainErrors: this.chainErrors }
  }

  /** A refund is pending, or the expiry is near: the channel must be claimed now and backs nothing new. */
  private ending (found: OnChainChannel): boolean {
    return found.refundAt !== 0 || found.expiry - Math.floor(Date.now() / 1000) < this.options.safetySeconds
  }

  /**
   * What a voucher on this channel may add up to: the deposits less refunds, while the channel pays
   * us and is not about to end. A channel whose refund is pending or whose expiry is near backs
   * nothing more than what is already claimed.
   *
   * Before its expiry nobody can take money out of a channel (a refund can only be asked for after
   * it), so its backing only grows: a channel read earlier that already covers `needed` is not read
   * again. A seller checks funds on every voucher, and this keeps a chain call off that path.
   */
  async fundsOf (channel: string, needed = 0n): Promise<bigint> {
    const known = this.lastSeen.get(channel)
    const found = known && !this.ending(known) && known.deposited - known.refunded >= needed ? known : await this.read(channel)
    if (!found) return 0n
    if (!this.account.equals(accountBytes(found.payee))) return 0n
    if (this.ending(found)) return found.claimed
    return found.deposited - found.refunded
  }

  async redeem (voucher: VoucherRecord, now = false): Promise<RedemptionRecord> {
    const found = await this.read(voucher.channel)
    const claimed = found?.claimed ?? 0n
    const amount = BigInt(voucher.amount)
    const ending = found !== undefined && this.ending(found)
    if (found && amount > claimed && (now || ending || await this.worthClaiming(voucher, found, amount - claimed))) {
      const decided = await this.queue.decide(voucher)
      if (decided) this.log.info('claiming on chain', { channel: voucher.channel, nonce: voucher.nonce, amount: voucher.amount, ending })
    }
    await this.counted(async () => this.queue.run(voucher.channel))
    return { channel: voucher.channel, amount: (await this.claimedOf(voucher.channel)).toString(), nonce: voucher.nonce, at: new Date().toISOString() }
  }

  /**
   * A claim is worth making once the amount it adds reaches `minClaim` and pays for its fee
   * `claimFeeMultiple` times over. A fee that cannot be estimated now (a dead endpoint) defers the
   * claim: it could not be sent anyway. One the chain cannot compare (a token channel) leaves
   * `minClaim` alone to decide.
   */
  private async worthClaiming (voucher: VoucherRecord, found: OnChainChannel, increase: bigint): Promise<boolean> {
    if (increase < this.options.minClaim) return false
    const multiple = this.options.claimFeeMultiple ?? 0
    if (multiple <= 0 || !this.chain.claimFee) return true
    let fee: bigint | undefined
    try {
      fee = await this.chain.claimFee(signedVoucherOf(voucher), found)
    } catch (err) {
      this.chainErrors++
      this.log.warn('cannot estimate the claim\'s fee; the claim waits', { channel: voucher.channel, error: errorMessage(err) })
      return false
    }
    if (fee === undefined) return true
    // The multiple in thousandths, so that the comparison stays in whole base units.
    const worth = increase * 1000n >= fee * BigInt(Math.round(multiple * 1000))
    if (!worth) this.log.debug('claim deferred: not yet worth its fee', { channel: voucher.channel, increase: increase.toString(), fee: fee.toString(), multiple })
    return worth
  }

  async fundChannel (payee: string, infoHash: string, funds: bigint): Promise<bigint> {
    const channel = Buffer.from(channelIdFor(tronAddressOf(this.account), payee, infoHash)).toString('hex')
    const expiry = (await this.chain.now()) + this.options.channelLifetimeSeconds
    await this.options.recordFunding?.(payee, infoHash)
    const available = await this.counted(async () => this.chain.fundChannel(payee, infoHash, channel, funds, expiry))
    this.log.info('channel funded on chain', { channel, payee, funds: available.toString(), expiry })
    return available
  }

  private async claimedOf (channel: string): Promise<bigint> {
    let best = 0n
    for (const record of await this.queue.records(channel)) if (record.state === 'confirmed' && BigInt(record.amount) > best) best = BigInt(record.amount)
    return best
  }

  /** What has been claimed on chain per channel, by our confirmed claims. */
  async redemptions (): Promise<RedemptionRecord[]> {
    const best = new Map<string, RedemptionRecord>()
    for (const record of await this.queue.records()) {
      if (record.state !== 'confirmed') continue
      const known = best.get(record.channel)
      if (!known || BigInt(known.amount) < BigInt(record.amount)) best.set(record.channel, { channel: record.channel, amount: record.amount, nonce: record.nonce, at: record.confirmedAt ?? record.decidedAt })
    }
    return [...best.values()]
  }
}
