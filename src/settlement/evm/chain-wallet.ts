import type { StateStore, VoucherRecord } from '../../daemon/store.js'
import { accountBytes, evmAddressOf, tronAddressOf } from '../../market/address.js'
import { channelIdFor } from '../../market/voucher.js'
import { UsageError } from '../../util/errors.js'
import type { EvmChannelChain, OnChainChannel } from './chain-client.js'

/** One channel of ours, as `bidtorrent channels` shows it: amounts in base units, decimal. */
export interface ChannelView {
  readonly channel: string
  /** payer: we pay through it (we buy); payee: we are paid through it (we sell). */
  readonly role: 'payer' | 'payee'
  readonly counterpart: string
  readonly infoHash: string
  readonly deposited: string
  /** The best voucher on it: the latest we signed, or the best we received. */
  readonly paid: string
  readonly claimed: string
  readonly refunded: string
  readonly expiry: number
  readonly refundAt: number
  readonly state: 'open' | 'refund requested' | 'ended'
}

/**
 * The wallet's view of the chain, and what the CLI can do there through the daemon (which holds the
 * unlocked key): balances, the channels (from the contract's events, its state and the stored
 * vouchers: every figure can be checked against both), opening, topping up, closing, withdrawing.
 */
export class ChainWallet {
  constructor (private readonly chain: EvmChannelChain, private readonly store: StateStore, readonly wallet: string) {}

  async balance (): Promise<{ tron: string, evm: string, chainId: number, native: string, token?: string }> {
    const token = await this.chain.tokenBalance()
    return { tron: this.wallet, evm: evmAddressOf(this.wallet), chainId: this.chain.chainId, native: (await this.chain.balance()).toString(), ...(token !== undefined ? { token: token.toString() } : {}) }
  }

  async channels (): Promise<ChannelView[]> {
    const sent = new Map((await this.store.sentVouchers.all()).map((voucher) => [voucher.channel, voucher]))
    const received = new Map((await this.store.receivedVouchers.all()).map((voucher) => [voucher.channel, voucher]))
    const views: ChannelView[] = []
    const seen = new Set<string>()
    for (const { channelId, infoHash } of await this.chain.channelsOf(this.chain.address)) {
      if (seen.has(channelId)) continue
      seen.add(channelId)
      const onChain = await this.chain.channel(channelId)
      if (!onChain) continue
      views.push(this.view(channelId, infoHash, onChain, sent.get(channelId) ?? received.get(channelId)))
    }
    return views
  }

  private view (channel: string, infoHash: string, onChain: OnChainChannel, voucher: VoucherRecord | undefined): ChannelView {
    const payer = onChain.payer.toLowerCase() === this.chain.address.toLowerCase()
    const available = onChain.deposited - onChain.claimed - onChain.refunded
    return {
      channel,
      role: payer ? 'payer' : 'payee',
      counterpart: tronAddressOf(accountBytes(payer ? onChain.payee : onChain.payer)),
      infoHash,
      deposited: onChain.deposited.toString(),
      paid: voucher?.amount ?? '0',
      claimed: onChain.claimed.toString(),
      refunded: onChain.refunded.toString(),
      expiry: onChain.expiry,
      refundAt: onChain.refundAt,
      state: available === 0n ? 'ended' : onChain.refundAt !== 0 ? 'refund requested' : 'open'
    }
  }

  async open (payee: string, infoHash: string, deposit: bigint, lifetimeSeconds: number): Promise<ChannelView> {
    const channel = Buffer.from(channelIdFor(this.wallet, payee, infoHash)).toString('hex')
    await this.chain.fundChannel(payee, infoHash, channel, deposit, (await this.chain.now()) + lifetimeSeconds)
    return this.describe(channel, infoHash)
  }

  async topUp (channel: string, amount: bigint, lifetimeSeconds: number): Promise<ChannelView> {
    const onChain = await this.mine(channel)
    if (onChain.payer.toLowerCase() !== this.chain.address.toLowerCase()) throw new UsageError('only the payer tops a channel up')
    const backing = onChain.deposited - onChain.refunded
    const infoHash = await this.infoHashOf(channel)
    await this.chain.fundChannel(tronAddressOf(accountBytes(onChain.payee)), infoHash, channel, backing + amount, (await this.chain.now()) + lifetimeSeconds)
    return this.describe(channel, infoHash)
  }

  /**
   * Ends a channel as far as the contract allows now. As the payee: a cooperative close with the
   * best voucher received (the rest goes back to the payer at once). As the payer: asks for the
   * refund once the channel has expired, and takes it once the challenge window has passed.
   */
  async close (channel: string): Promise<{ action: string, transaction: string, channel: ChannelView }> {
    const onChain = await this.mine(channel)
    const infoHash = await this.infoHashOf(channel)
    const now = await this.chain.now()
    let action: string
    let transaction: string
    if (onChain.payee.toLowerCase() === this.chain.address.toLowerCase()) {
      const best = await this.store.receivedVouchers.get(channel)
      const amount = BigInt(best?.amount ?? '0')
      transaction = amount > onChain.claimed
        ? await this.chain.call('close', `0x${channel}`, best!.nonce, amount, `0x${best!.signature}`)
        : await this.chain.call('close', `0x${channel}`, 0, 0, '0x')
      action = 'closed: claimed the best voucher and returned the rest to the payer'
    } else if (onChain.refundAt === 0) {
      if (now < onChain.expiry) throw new UsageError(`the channel runs until ${new Date(onChain.expiry * 1000).toISOString()}; the payer can ask for its refund from then (or the payee can close it now)`)
      transaction = await this.chain.call('requestRefund', `0x${channel}`)
      action = 'refund requested: the payee may still claim during the challenge window; run close again after it'
    } else {
      if (now < onChain.refundAt) throw new UsageError(`the challenge window runs until ${new Date(onChain.refundAt * 1000).toISOString()}`)
      transaction = await this.chain.call('refund', `0x${channel}`)
      action = 'refunded what the payee did not claim'
    }
    return { action, transaction, channel: await this.describe(channel, infoHash) }
  }

  async withdraw (to: string, amount: bigint): Promise<{ transaction: string }> {
    if (amount <= 0n) throw new UsageError('withdraw an amount above zero')
    return { transaction: await this.chain.send(evmAddressOf(to), amount) }
  }

  private async mine (channel: string): Promise<OnChainChannel> {
    if (!/^[0-9a-f]{64}$/.test(channel)) throw new UsageError(`"${channel}" is not a channel id (64 hex digits)`)
    const onChain = await this.chain.channel(channel)
    if (!onChain) throw new UsageError(`no channel ${channel} on chain ${this.chain.chainId}`)
    const me = this.chain.address.toLowerCase()
    if (onChain.payer.toLowerCase() !== me && onChain.payee.toLowerCase() !== me) throw new UsageError('that channel is not this wallet\'s')
    return onChain
  }

  private async infoHashOf (channel: string): Promise<string> {
    const found = (await this.chain.channelsOf(this.chain.address)).find((entry) => entry.channelId === channel)
    if (!found) throw new UsageError(`channel ${channel} was not opened to or by this wallet`)
    return found.infoHash
  }

  private async describe (channel: string, infoHash: string): Promise<ChannelView> {
    const onChain = await this.mine(channel)
    const voucher = (await this.store.sentVouchers.get(channel)) ?? (await this.store.receivedVouchers.get(channel))
    return this.view(channel, infoHash, onChain, voucher)
  }
}
