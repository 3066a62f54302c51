import { Contract, FetchRequest, JsonRpcProvider, Transaction, Wallet, isError, type ContractTransaction, type ContractTransactionResponse, type TransactionResponse } from 'ethers'
import { evmAddressOf } from '../../money/address.js'
import type { SignedVoucher } from '../../money/voucher.js'
import { channelFromResult, isNativeCoin, type OnChainChannel, type SignedTransaction, type TransactionOutcome, type WalletChain } from '../chain.js'
import { ERC20_ABI, artifact } from '../contracts/artifacts.js'
import { fundedBy, fundingCalls, fundingStep } from '../funding.js'

/** How long one JSON-RPC request may take before the endpoint counts as down. */
const REQUEST_TIMEOUT_MS = 15_000

const hex = (bytes: Uint8Array): string => `0x${Buffer.from(bytes).toString('hex')}`

/**
 * The channel contract on an EVM chain (BTTC, or the local development chain) through ethers: the
 * daemon's key signs transactions locally, and only signed transactions leave the process.
 */
export class EvmChannelChain implements WalletChain {
  /** BTTC's coin is BTT; the local development chain's too, as far as the daemon is concerned. */
  readonly nativeCurrency = { symbol: 'BTT', decimals: 18 }
  private readonly provider: JsonRpcProvider
  private readonly signer: Wallet
  private readonly channels: Contract

  constructor (rpcUrl: string, readonly chainId: number, readonly contract: string, privateKey: string, readonly token: string | null = null, requestTimeoutMs = REQUEST_TIMEOUT_MS) {
    // A hung endpoint must fail a request, not hold it for ethers' default five minutes: the market
    // then serves on the deposits last read, and the claim queue tries again later.
    const request = new FetchRequest(rpcUrl)
    request.timeout = requestTimeoutMs
    // No request cache: a nonce or a channel read must never be a stale copy.
    this.provider = new JsonRpcProvider(request, chainId, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 1000 })
    this.signer = new Wallet(privateKey, this.provider)
    this.channels = new Contract(contract, artifact('BidtorrentChannels').abi, this.signer)
  }

  get address (): string {
    return this.signer.address
  }

  async channel (channelId: string): Promise<OnChainChannel | undefined> {
    return channelFromResult(await this.channels.getFunction('channels')(channelId.startsWith('0x') ? channelId : `0x${channelId}`) as unknown[])
  }

  private claimRequest (voucher: SignedVoucher): Promise<ContractTransaction> {
    return this.channels.getFunction('claim').populateTransaction(hex(voucher.channel), voucher.nonce, voucher.amount, hex(voucher.signature))
  }

  async signClaim (voucher: SignedVoucher): Promise<SignedTransaction> {
    const request = await this.claimRequest(voucher)
    const populated = await this.signer.populateTransaction({ ...request, nonce: await this.provider.getTransactionCount(this.signer.address, 'pending') })
    const raw = await this.signer.signTransaction(populated)
    return { raw, hash: Transaction.from(raw).hash! }
  }

  async claimFee (voucher: SignedVoucher, channel: OnChainChannel): Promise<bigint | undefined> {
    // A token channel pays in the token while gas is paid in the native coin: no common measure.
    if (!isNativeCoin(channel.token)) return undefined
    const request = await this.claimRequest(voucher)
    const [gas, fees] = await Promise.all([this.provider.estimateGas({ ...request, from: this.signer.address }), this.provider.getFeeData()])
    const price = fees.maxFeePerGas ?? fees.gasPrice
    return price === null ? undefined : gas * price
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
    const step = fundingStep(current, funds, expiry)
    for (const call of fundingCalls(step, { contract: this.contract, token: this.token, payee, infoHash, channelId, expiry, ...(current ? { current } : {}) })) {
      await this.mined(this.signer.sendTransaction({ to: call.contract, data: call.data, value: call.callValue }))
    }
    return fundedBy(step)
  }

  /** Waits for a transaction of ours to be mined; returns its hash, or throws if it reverted. */
  private async mined (sending: Promise<TransactionResponse>): Promise<string> {
    const receipt = await (await sending).wait()
    if (receipt?.status !== 1) throw new Error(`transaction ${receipt?.hash ?? ''} reverted`)
    return receipt.hash
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
    return this.mined(this.channels.getFunction(method)(...args) as Promise<ContractTransactionResponse>)
  }

  async send (to: string, amount: bigint): Promise<string> {
    return this.mined(this.signer.sendTransaction({ to: evmAddressOf(to), value: amount }))
  }

  async sendToken (to: string, amount: bigint): Promise<string> {
    if (!this.token) throw new Error('no deposit token is configured (channelToken)')
    return this.mined(new Contract(this.token, ERC20_ABI, this.signer).getFunction('transfer')(evmAddressOf(to), amount) as Promise<ContractTransactionResponse>)
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
