import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { JsonRpcProvider, Wallet, parseEther } from 'ethers'
import { deployContract } from '../settlement/contracts/artifacts.js'
import { startLocalChain, type DevAccount, type LocalChain } from './local-chain.js'

/** What `bidtorrent devnet` writes to DIR/devnet.json for the demo and the daemons. */
export interface DevnetInfo {
  readonly rpcUrl: string
  readonly chainId: number
  readonly channelContract: string
  readonly token: string
  readonly challengePeriodSeconds: number
  /** A funded development account that pays for demo wallets (publicly known key: local chain only). */
  readonly funder: DevAccount
  readonly accounts: readonly DevAccount[]
}

export const DEVNET_FILE = 'devnet.json'
/** The settings a daemon needs to settle on the devnet: pass it with `--config`. */
export const DEVNET_DAEMON_CONFIG = 'daemon-config.json'
const TEST_TOKENS_PER_ACCOUNT = parseEther('1000000')

export interface DevnetOptions {
  readonly directory: string
  readonly chainId?: number
  readonly port?: number
  readonly challengePeriodSeconds?: number
}

/**
 * A local EVM chain for development: Anvil on 127.0.0.1, the channel contract and a test token
 * deployed, test tokens minted to the development accounts (which also hold the native coin), and
 * the files the daemons and the demo read written into the directory. The chain keeps its state in
 * the directory: started again there, it resumes with the same contract, channels and balances.
 */
export async function startDevnet (options: DevnetOptions): Promise<{ info: DevnetInfo, chain: LocalChain, resumed: boolean }> {
  const previous = await readDevnet(options.directory).catch(() => undefined)
  const chainId = options.chainId ?? previous?.chainId ?? 31337
  const chain = await startChain(options.directory, chainId, options.port || (previous ? Number(new URL(previous.rpcUrl).port) : 0), !options.port)
  try {
    const provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 100 })
    try {
      const resumed = previous !== undefined && previous.chainId === chainId && (await provider.getCode(previous.channelContract)) !== '0x'
      const info = resumed ? { ...previous, rpcUrl: chain.rpcUrl } : await deploy(chain, provider, options.challengePeriodSeconds ?? 600)
      await writeFile(join(options.directory, DEVNET_FILE), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 })
      const daemonConfig = { settlement: 'evm', chainRpcUrl: info.rpcUrl, chainId: info.chainId, channelContract: info.channelContract }
      await writeFile(join(options.directory, DEVNET_DAEMON_CONFIG), `${JSON.stringify(daemonConfig, null, 2)}\n`)
      return { info, chain, resumed }
    } finally {
      provider.destroy()
    }
  } catch (err) {
    await chain.stop()
    throw err
  }
}

/** Starts the devnet's node on `port`; if that was only the last run's port and it is taken now, on a free one. */
async function startChain (directory: string, chainId: number, port: number, portMayMove: boolean): Promise<LocalChain> {
  const start = (on: number): Promise<LocalChain> => startLocalChain({ directory: join(directory, 'chain'), chainId, port: on, persist: true })
  try {
    return await start(port)
  } catch (err) {
    if (!portMayMove || port === 0) throw err
    return start(0)
  }
}

async function deploy (chain: LocalChain, provider: JsonRpcProvider, challengePeriodSeconds: number): Promise<DevnetInfo> {
  const deployer = new Wallet(chain.accounts[0]!.privateKey, provider)
  const channels = await deployContract('BidtorrentChannels', deployer, challengePeriodSeconds)
  const token = await deployContract('TestToken', deployer)
  for (const account of chain.accounts.slice(0, 10)) {
    await (await token.getFunction('mint')(account.address, TEST_TOKENS_PER_ACCOUNT)).wait()
  }
  return {
    rpcUrl: chain.rpcUrl,
    chainId: chain.chainId,
    channelContract: await channels.getAddress(),
    token: await token.getAddress(),
    challengePeriodSeconds,
    funder: chain.accounts[0]!,
    accounts: chain.accounts.slice(0, 10)
  }
}

/** Reads what a running `bidtorrent devnet` wrote into its directory. */
export async function readDevnet (directory: string): Promise<DevnetInfo> {
  let text: string
  try {
    text = await readFile(join(directory, DEVNET_FILE), 'utf8')
  } catch {
    throw new Error(`no devnet in ${directory}: start one with "bidtorrent devnet --data-dir ${directory}"`)
  }
  return JSON.parse(text) as DevnetInfo
}
