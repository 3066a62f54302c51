import { Contract, JsonRpcProvider, Wallet, parseEther } from 'ethers'
import { accountBytes } from '../market/address.js'
import { channelIdFor } from '../market/voucher.js'
import { artifact } from '../settlement/contracts/artifacts.js'
import type { DevnetInfo } from '../settlement/evm/devnet.js'

/** What each demo wallet gets from the devnet's funder: the native coin for deposits and gas. */
const FUNDING = parseEther('10')

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

const evmAddress = (tron: string): string => `0x${Buffer.from(accountBytes(tron)).toString('hex')}`

/** The demo's link to a running devnet: funds its wallets, and reads balances and channels at the end. */
export class DemoChain {
  private readonly provider: JsonRpcProvider
  private readonly before = new Map<string, bigint>()
  private readonly channels: Contract

  constructor (private readonly info: DevnetInfo) {
    this.provider = new JsonRpcProvider(info.rpcUrl, info.chainId, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 100 })
    this.channels = new Contract(info.channelContract, artifact('BidtorrentChannels').abi, this.provider)
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

  async fund (tronAddresses: readonly string[]): Promise<void> {
    const funder = new Wallet(this.info.funder.privateKey, this.provider)
    for (const address of tronAddresses) {
      await (await funder.sendTransaction({ to: evmAddress(address), value: FUNDING })).wait()
      this.before.set(address, await this.provider.getBalance(evmAddress(address)))
    }
  }

  async report (parties: ReadonlyArray<{ name: string, wallet: string }>, seller: string, infoHash: string): Promise<ChainReport> {
    const rows: ChainParty[] = []
    for (const { name, wallet } of parties) {
      rows.push({ name, address: evmAddress(wallet), before: (this.before.get(wallet) ?? 0n).toString(), after: (await this.provider.getBalance(evmAddress(wallet))).toString() })
    }
    const channels: ChainChannel[] = []
    for (const { wallet } of parties) {
      if (wallet === seller) continue
      const id = `0x${Buffer.from(channelIdFor(wallet, seller, infoHash)).toString('hex')}`
      const found = await this.channels.getFunction('channels')(id) as unknown as bigint[]
      channels.push({ payer: wallet, deposited: found[6]!.toString(), claimed: found[7]!.toString() })
    }
    return { chainId: this.info.chainId, contract: this.info.channelContract, parties: rows, channels }
  }

  close (): void {
    this.provider.destroy()
  }
}
