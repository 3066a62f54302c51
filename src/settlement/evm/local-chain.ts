import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { HDNodeWallet, JsonRpcProvider } from 'ethers'
import { stopChild } from '../../demo/processes.js'
import { freePort } from '../../util/ports.js'
import { PROJECT_ROOT } from '../../util/project.js'

/** Hardhat's development accounts: publicly known keys, funded on the local chain only. */
const DEV_MNEMONIC = 'test test test test test test test test test test test junk'
const DEV_ACCOUNTS = 20

export interface DevAccount {
  readonly address: string
  readonly privateKey: string
}

export interface LocalChain {
  readonly rpcUrl: string
  readonly chainId: number
  readonly port: number
  readonly accounts: readonly DevAccount[]
  readonly process: ChildProcess
  output (): string
  stop (): Promise<void>
}

export interface LocalChainOptions {
  /** Hardhat's cache and the node's working files go here. */
  readonly directory: string
  readonly chainId?: number
  /** 0 or absent: a free port. */
  readonly port?: number
  readonly timeoutMs?: number
}

export function devAccounts (): DevAccount[] {
  return Array.from({ length: DEV_ACCOUNTS }, (_, index) => {
    const wallet = HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`)
    return { address: wallet.address, privateKey: wallet.privateKey }
  })
}

/**
 * Starts a real EVM node on 127.0.0.1 (Hardhat's, from the npm registry) and waits until it
 * answers JSON-RPC. It mines a block per transaction and funds the 20 development accounts.
 */
export async function startLocalChain (options: LocalChainOptions): Promise<LocalChain> {
  const chainId = options.chainId ?? 31337
  const port = options.port || await freePort()
  await mkdir(options.directory, { recursive: true })
  const cli = join(PROJECT_ROOT, 'node_modules', 'hardhat', 'internal', 'cli', 'cli.js')
  const child = spawn(process.execPath, [cli, 'node', '--config', join(PROJECT_ROOT, 'config', 'hardhat.config.cjs'), '--hostname', '127.0.0.1', '--port', String(port)], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, BIDTORRENT_DEVNET_DIR: options.directory, BIDTORRENT_DEVNET_CHAIN_ID: String(chainId), HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const rpcUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the local chain exited with ${child.exitCode}: ${output.trim().slice(-2000)}`)
    if (output.includes('Started HTTP')) {
      const provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true })
      try {
        const network = await provider.getNetwork()
        if (Number(network.chainId) !== chainId) throw new Error(`the chain answered with id ${network.chainId}, not ${chainId}`)
        break
      } catch (err) {
        if (Date.now() > deadline) throw err
      } finally {
        provider.destroy()
      }
    }
    if (Date.now() > deadline) {
      await stopChild(child, 'SIGKILL')
      throw new Error(`the local chain did not start within ${options.timeoutMs ?? 60_000} ms: ${output.trim().slice(-2000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return { rpcUrl, chainId, port, accounts: devAccounts(), process: child, output: () => output, stop: () => stopChild(child) }
}
