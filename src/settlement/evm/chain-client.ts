import { Contract, JsonRpcProvider, Transaction, Wallet, isError, type ContractTransactionResponse } from 'ethers'
import { evmAddressOf } from '../../market/address.js'
import type { SignedVoucher } from '../../market/voucher.js'
import { artifact } from '../contracts/artifacts.js'

/** A channel as the contract holds it (docs/contract.md); amounts in base units. */
export interface OnChainChannel {
  readonly payer: string
  readonly payee: string
  readonly token: string
  /** Seconds since the epoch. */
  readonly expiry: number
  /** 0, or when a requested refund may be taken. */
  readonly refundAt: number
  readonly nonce: number
  readonly deposited: bigint
  readonly claimed: bigint
  readonly refunded: bigint
}

/** A transaction signed before it is sent: written down first, it can be sent again unchanged. */
export interface SignedTransaction {
  readonly hash: string
  /** The signed transaction as sent: raw bytes (EVM), or the signed JSON (TRON). */
  readonly raw: string
  /** Past this time (ms since the epoch) it can never be mined (TRON transactions expire); absent: never. */
  readonly expiresAt?: number
}

export interface TransactionOutcome {
  readonly status: 'success' | 'reverted'
  readonly blockNumber: number
}

/** What the claim queue needs of a chain: read a channel, sign a claim, send it, see how it ended. */
export interface ChannelChain {
  readonly chainId: number
  /** The channel contract as 20 bytes in 0x form (the voucher domain's verifyingContract). */
  readonly contract: string
  /** Anything a user should know about this chain link (say, that no node is configured). */
  readonly describe?: string
  channel (channelId: string): Promise<OnChainChannel | undefined>
  signClaim (voucher: SignedVoucher): Promise<SignedTransaction>
  /** Sends a signed transaction; sending one the node already has is not an error. */
  broadcast (transaction: SignedTransaction): Promise<void>
  outcome (hash: string): Promise<TransactionOutcome | undefined>
  now (): Promise<number>
  fundChannel (payee: string, infoHash: string, channelId: string, funds: bigint, expiry: number): Promise<bigint>
}

const hex = (bytes: Uint8Array): string => `0x${Buffer.from(bytes).toString('hex')}`
const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'
const ERC20_ABI = ['function approve(address spender, uint256 amount) returns (bool)', 'function balanceOf(address owner) view returns (uint256)']

/**
 * The channel contract on an EVM chain (BTTC, or the local development chain) through ethers: the
 * daemon's key signs transactions locally, and only signed transactions leave the process.
 */
export class EvmChannelChain implements ChannelChain {
  private readonly provider: JsonRpcProvider
  private readonly signer: Wallet
  private readonly channels: Contract

  constructor (rpcUrl: string, readonly chainId: number, readonly contract: string, privateKey: string, private readonly token: string | null = null) {
    // No request cache: a nonce or a channel read must never be a stale copy.
    this.provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 1000 })
    this.signer = new Wallet(privateKey, this.provider)
    this.channels = new Contract(contract, artifact('BidtorrentChannels').abi, this.signer)
  }

  get address (): string {
    return this.signer.address
  }

  async channel (channelId: string): Promise<OnChainChannel | undefined> {
    const found = await this.channels.getFunction('channels')(channelId.startsWith('0x') ? channelId : `0x${channelId}`) as unknown as [string, string, string, bigint, bigint, bigint, bigint, bigint, bigint]
    const [payer, payee, token, expiry, refundAt, nonce, deposited, claimed, refunded] = found
    if (/^0x0{40}$/i.test(payer)) return undefined
    return { payer, payee, token, expiry: Number(expiry), refundAt: Number(refundAt), nonce: Number(nonce), deposited, claimed, refunded }
  }

  async signClaim (voucher: SignedVoucher): Promise<SignedTransaction> {
    const request = await this.channels.getFunction('claim').populateTransaction(hex(voucher.channel), voucher.nonce, voucher.amount, hex(voucher.signature))
    const populated = await this.signer.populateTransaction({ ...request, nonce: await this.provider.getTransactionCount(this.signer.address, 'pending') })
    const raw = await this.signer.signTransaction(populated)
    return { raw, hash: Transaction.from(raw).hash! }
  }

  async broadcast (transaction: SignedTransaction): Promise<void> {
    try {
      await this.provider.broadcastTransaction(transaction.raw)
    } catch (err) {
      // Sent before (a restart re-sends what it wrote down), or already mined: the outcome tells.
      if (isError(err, 'NONCE_EXPIRED') || /already known|known transaction|nonce too low/i.test(String((err as Error).message))) return
      throw err
    }
  }

  async outcome (hash: string): Promise<TransactionOutcome | undefined> {
    const receipt = await this.provider.getTransactionReceipt(hash)
    if (!receipt) return undefined
    return { status: receipt.status === 1 ? 'success' : 'reverted', blockNumber: receipt.blockNumber }
  }

  /**
   * As the payer: makes sure our channel to `payee` for a torrent can pay up to `funds` (cumulative),
   * opening it or topping it up (with the native coin, or with the token: approved, then pulled by
   * transferFrom), and keeps it open until `expiry`. Returns what the channel can pay once mined.
   */
  async fundChannel (payee: string, infoHash: string, channelId: string, funds: bigint, expiry: number): Promise<bigint> {
    const current = await this.channel(channelId)
    if (!current) {
      await this.approve(funds)
      await this.mined(this.channels.getFunction('open')(evmAddressOf(payee), `0x${infoHash}`, this.token ?? ZERO_ADDRESS, funds, expiry, this.value(funds)))
      return funds
    }
    const backing = current.deposited - current.refunded
    if (backing >= funds && current.expiry >= expiry && current.refundAt === 0) return backing
    // The contract takes no empty top-up: moving only the expiry (or cancelling a refund) costs 1 base unit.
    const amount = funds > backing ? funds - backing : 1n
    if (current.token !== ZERO_ADDRESS) await this.approve(amount)
    await this.mined(this.channels.getFunction('topUp')(`0x${channelId}`, amount, Math.max(expiry, current.expiry), current.token === ZERO_ADDRESS ? { value: amount } : {}))
    return backing + amount
  }

  /** The transaction's value: the deposit itself for the native coin, nothing for a token. */
  private value (amount: bigint): { value?: bigint } {
    return this.token ? {} : { value: amount }
  }

  private async approve (amount: bigint): Promise<void> {
    if (!this.token) return
    const token = new Contract(this.token, ERC20_ABI, this.signer)
    await this.mined(token.getFunction('approve')(this.contract, amount))
  }

  private async mined (sending: Promise<unknown>): Promise<void> {
    await ((await sending) as ContractTransactionResponse).wait()
  }

  /** Our balance of the deposit token, when channels are funded with one. */
  async tokenBalance (): Promise<bigint | undefined> {
    if (!this.token) return undefined
    return await new Contract(this.token, ERC20_ABI, this.provider).getFunction('balanceOf')(this.signer.address) as bigint
  }

  async balance (address = this.signer.address): Promise<bigint> {
    return this.provider.getBalance(address)
  }

  /** Every channel opened to or by `account` (0x…), from the contract's Opened events. */
  async channelsOf (account: string): Promise<Array<{ channelId: string, infoHash: string }>> {
    const opened = [
      ...await this.channels.queryFilter(this.channels.filters.Opened!(null, account)),
      ...await this.channels.queryFilter(this.channels.filters.Opened!(null, null, account))
    ]
    return opened.map((event) => {
      const args = (event as unknown as { args: [string, string, string, string] }).args
      return { channelId: args[0].slice(2), infoHash: args[3].slice(2) }
    })
  }

  /** Sends a transaction to the contract as our account and waits for it to be mined. */
  async call (method: 'requestRefund' | 'refund' | 'close', ...args: unknown[]): Promise<string> {
    const sent = await this.channels.getFunction(method)(...args) as ContractTransactionResponse
    const receipt = await sent.wait()
    return receipt!.hash
  }

  async send (to: string, amount: bigint): Promise<string> {
    const sent = await this.signer.sendTransaction({ to, value: amount })
    const receipt = await sent.wait()
    return receipt!.hash
  }

  async now (): Promise<number> {
    const block = await this.provider.getBlock('latest')
    if (!block) throw new Error('the chain returned no latest block')
    return block.timestamp
  }

  destroy (): void {
    this.provider.destroy()
  }
}
