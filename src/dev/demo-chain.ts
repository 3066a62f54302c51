import { parseEther } from 'ethers'
import { evmAddressOf } from '../money/address.js'
import { channelIdFor } from '../money/voucher.js'
import { EvmChannelChain } from '../settlement/evm/chain-client.js'
import type { DevnetInfo } from './devnet.js'

/** What each demo wallet gets from the devnet's funder beyond its deposit: the native coin for gas. */
const GAS_MONEY = parseEther('10')

export interface ChainParty {
  readonly name: string
  readonly address: string
  /** Native balance before the demo and after it (gas included), base units. */
  readonly before: string
  readonly after: string
}

export interface ChainChannel {
  readonly payer: string
  readonly deposited: string
  /** What the seeder claimed on chain: must equal what the bidder paid. */
  readonly claimed: string
}

export interface ChainReport {
  readonly chainId: number
  readonly contract: string
  readonly parties: readonly ChainParty[]
  readonly channels: readonly ChainChannel[]
}

/** The demo's link to a running devnet: funds its wallets, and reads balances and channels at the end. */
export class DemoChain {
  /** The channel contract, as the devnet's funder account sees it. */
  private readonly chain: EvmChannelChain
  private readonly before = new Map<string, bigint>()

  constructor (private readonly info: DevnetInfo) {
    this.chain = new EvmChannelChain(info.rpcUrl, info.chainId, info.channelContract, info.funder.privateKey)
  }

  /** The settings a demo daemon settles on the devnet with; each channel is funded with `deposit`. */
  env (deposit: bigint): NodeJS.ProcessEnv {
    return {
      BIDTORRENT_SETTLEMENT: 'evm',
      BIDTORRENT_CHAIN_RPC_URL: this.info.rpcUrl,
      BIDTORRENT_CHAIN_ID: String(this.info.chainId),
      BIDTORRENT_CHANNEL_CONTRACT: this.info.channelContract,
      BIDTORRENT_CHANNEL_DEPOSIT: deposit.toString(),
      BIDTORRENT_MIN_CLAIM: '1'
    }
  }

  /** Sends each wallet enough for a deposit of `deposit` and its gas. */
  async fund (tronAddresses: readonly string[], deposit: bigint): Promise<void> {
    for (const address of tronAddresses) {
      await this.chain.send(evmAddressOf(address), deposit + GAS_MONEY)
      this.before.set(address, await this.chain.balance(evmAddressOf(address)))
    }
  }

  async report (parties: ReadonlyArray<{ name: string, wallet: string }>, seller: string, infoHash: string): Promise<ChainReport> {
    const rows: ChainParty[] = []
    for (const { name, wallet } of parties) {
      rows.push({ name, address: evmAddressOf(wallet), before: (this.before.get(wallet) ?? 0n).toString(), after: (await this.chain.balance(evmAddressOf(wallet))).toString() })
    }
    const channels: ChainChannel[] = []
    for (const { wallet } of parties) {
      if (wallet === seller) continue
      const found = await this.chain.channel(Buffer.from(channelIdFor(wallet, seller, infoHash)).toString('hex'))
      channels.push({ payer: wallet, deposited: (found?.deposited ?? 0n).toString(), claimed: (found?.claimed ?? 0n).toString() })
    }
    return { chainId: this.info.chainId, contract: this.info.channelContract, parties: rows, channels }
  }

  close (): void {
    this.chain.destroy()
  }
}
