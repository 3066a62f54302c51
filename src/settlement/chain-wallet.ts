import { accountBytes, evmAddressOf, tronAddressOf } from '../money/address.js'
import { channelIdFor } from '../money/voucher.js'
import { UsageError } from '../util/errors.js'
import type { Currency, OnChainChannel, WalletChain } from './chain.js'
import type { ChannelStore } from './voucher-store.js'

/** One channel of ours, as `bidtorrent channels` shows it: amounts in base units, decimal. */
export interface ChannelView {
  readonly channel: string
  /** payer: we pay through it (we buy); payee: we are paid through it (we sell). */
  readonly role: 'payer' | 'payee'
  readonly counterpart: string
  readonly infoHash: string
  readonly deposited: string
  /** Paid on it: as payee, the best voucher received; as payer, what the payee confirmed holding. */
  readonly paid: string
  /** As payer: our latest voucher beyond what the payee confirmed (never counted as paid). */
  readonly signedNotAccepted: string
  readonly claimed: string
  readonly refunded: string
  readonly expiry: number
  readonly refundAt: number
  readonly state: 'open' | 'refund requested' | 'ended'
}

/** The wallet's balances on the daemon's chain, base units (decimal strings). */
export interface WalletBalance {
  readonly tron: string
  readonly evm: string
  readonly chainId: number
  readonly native: string
  readonly nativeCurrency: Currency
  /** With a deposit token configured: its address and our balance of it (BTT has 18 decimals). */
  readonly token?: { readonly address: string, readonly balance: string }
}

/**
 * The wallet's view of the chain, and what the CLI can do there through the daemon (which holds the
 * unlocked key): balances, the channels (from the contract's state, and the stored vouchers: every
 * figure can be checked against both), opening, topping up, closing, withdrawing. On any chain
 * backend: an EVM chain (BTTC) or TRON.
 */
export class ChainWallet {
  constructor (private readonly chain: WalletChain, private readonly store: ChannelStore, readonly wallet: string, private readonly backend: 'evm' | 'tron') {}

  async balance (): Promise<WalletBalance> {
    const token = await this.chain.tokenBalance()
    return {
      tron: this.wallet,
      evm: evmAddressOf(this.wallet),
      chainId: this.chain.chainId,
      native: (await this.chain.balance()).toString(),
      nativeCurrency: this.chain.nativeCurrency,
      ...(token !== undefined && this.chain.token ? { token: { address: this.chain.token, balance: token.toString() } } : {})
    }
  }

  /**
   * Every channel of ours we know of, with an info hash: from the contract's events where the chain
   * serves them, and always from our own records (channels we funded, vouchers signed and received).
   */
  private async known (): Promise<Map<string, string>> {
    const known = new Map<string, string>()
    for (const { channelId, infoHash } of await this.chain.channelsOf?.(this.chain.address) ?? []) known.set(channelId, infoHash)
    const ours = (record: { backend: string, chainId: number }): boolean => record.backend === this.backend && record.chainId === this.chain.chainId
    for (const record of await this.store.fundedChannels.all()) if (ours(record)) known.set(record.channel, record.infoHash)
    for (const record of [...await this.store.sentVouchers.all(), ...await this.store.receivedVouchers.all()]) if (ours(record)) known.set(record.channel, record.infoHash)
    return known
  }

  async channels (): Promise<ChannelView[]> {
    const views: ChannelView[] = []
    for (const [channel, infoHash] of await this.known()) {
      const onChain = await this.chain.channel(channel)
      if (!onChain || !this.isOurs(onChain)) continue
      views.push(this.view(channel, infoHash, onChain, await this.paymentsOf(channel)))
    }
    return views
  }

  private isOurs (onChain: OnChainChannel): boolean {
    const me = this.chain.address.toLowerCase()
    return onChain.payer.toLowerCase() === me || onChain.payee.toLowerCase() === me
  }

  /** What is paid on a channel by the books' rule: received vouchers as payee; the payee's receipts, and what we signed, as payer. */
  private async paymentsOf (channel: string): Promise<{ paid: bigint, signed: bigint }> {
    const [sent, accepted, received] = await Promise.all([this.store.sentVouchers.get(channel), this.store.acceptedVouchers.get(channel), this.store.receivedVouchers.get(channel)])
    if (sent) return { paid: BigInt(accepted?.amount ?? '0'), signed: BigInt(sent.amount) }
    const amount = BigInt(received?.amount ?? '0')
    return { paid: amount, signed: amount }
  }

  private view (channel: string, infoHash: string, onChain: OnChainChannel, payments: { paid: bigint, signed: bigint }): ChannelView {
    const payer = onChain.payer.toLowerCase() === this.chain.address.toLowerCase()
    const available = onChain.deposited - onChain.claimed - onChain.refunded
    return {
      channel,
      role: payer ? 'payer' : 'payee',
      counterpart: tronAddressOf(accountBytes(payer ? onChain.payee : onChain.payer)),
      infoHash,
      deposited: onChain.deposited.toString(),
      paid: payments.paid.toString(),
      signedNotAccepted: (payments.signed > payments.paid ? payments.signed - payments.paid : 0n).toString(),
      claimed: onChain.claimed.toString(),
      refunded: onChain.refunded.toString(),
      expiry: onChain.expiry,
      refundAt: onChain.refundAt,
      state: available === 0n ? 'ended' : onChain.refundAt !== 0 ? 'refund requested' : 'open'
    }
  }

  async open (payee: string, infoHash: string, deposit: bigint, lifetimeSeconds: number): Promise<ChannelView> {
    const channel = await recordFunding(this.store, { wallet: this.wallet, payee, infoHash, backend: this.backend, chainId: this.chain.chainId })
    await this.chain.fundChannel(payee, infoHash, channel, deposit, (await this.chain.now()) + lifetimeSeconds)
    return this.describe(channel, infoHash)
  }

  async topUp (id: string, amount: bigint, lifetimeSeconds: number): Promise<ChannelView> {
    const channel = await this.resolve(id)
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
  async close (id: string): Promise<{ action: string, transaction: string, channel: ChannelView }> {
    const channel = await this.resolve(id)
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

  /**
   * Sends coins out of the wallet: what channels are paid in (the deposit token when one is
   * configured, else the native coin), or with `native` the chain's own coin (which pays the fees).
   */
  async withdraw (to: string, amount: bigint, native = false): Promise<{ transaction: string, currency: string }> {
    if (amount <= 0n) throw new UsageError('withdraw an amount above zero')
    if (this.chain.token && !native) return { transaction: await this.chain.sendToken(to, amount), currency: `token ${this.chain.token}` }
    return { transaction: await this.chain.send(to, amount), currency: this.chain.nativeCurrency.symbol }
  }

  /** A channel id, or a unique prefix (4+ hex digits) of one of this wallet's channels, as torrent ids are. */
  private async resolve (id: string): Promise<string> {
    const needle = id.trim().toLowerCase().replace(/^0x/, '')
    if (/^[0-9a-f]{64}$/.test(needle)) return needle
    if (!/^[0-9a-f]{4,63}$/.test(needle)) throw new UsageError(`"${id}" is not a channel id (64 hex digits, or a unique prefix of 4 or more)`)
    const matches = [...(await this.known()).keys()].filter((channel) => channel.startsWith(needle))
    if (matches.length === 1) return matches[0]!
    if (matches.length > 1) throw new UsageError(`"${id}" matches ${matches.length} channels; give more of the id`)
    throw new UsageError(`no channel of this wallet starts with "${id}" (bidtorrent channels lists them)`)
  }

  private async mine (channel: string): Promise<OnChainChannel> {
    if (!/^[0-9a-f]{64}$/.test(channel)) throw new UsageError(`"${channel}" is not a channel id (64 hex digits)`)
    const onChain = await this.chain.channel(channel)
    if (!onChain) throw new UsageError(`no channel ${channel} on chain ${this.chain.chainId}`)
    if (!this.isOurs(onChain)) throw new UsageError('that channel is not this wallet\'s')
    return onChain
  }

  private async infoHashOf (channel: string): Promise<string> {
    const found = (await this.known()).get(channel)
    if (!found) throw new UsageError(`channel ${channel} was not opened to or by this wallet`)
    return found
  }

  private async describe (channel: string, infoHash: string): Promise<ChannelView> {
    return this.view(channel, infoHash, await this.mine(channel), await this.paymentsOf(channel))
  }
}

/**
 * Writes down, before any deposit is sent, that we fund the channel from `wallet` to `payee` for
 * a torrent (so it is listed even where the chain's events cannot be read); returns its id.
 */
export async function recordFunding (store: ChannelStore, funding: { wallet: string, payee: string, infoHash: string, backend: 'evm' | 'tron', chainId: number }): Promise<string> {
  const channel = Buffer.from(channelIdFor(funding.wallet, funding.payee, funding.infoHash)).toString('hex')
  if (!await store.fundedChannels.get(channel)) {
    await store.fundedChannels.put(channel, { channel, infoHash: funding.infoHash, payee: funding.payee, backend: funding.backend, chainId: funding.chainId, at: new Date().toISOString() })
  }
  return channel
}
