import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { HDNodeWallet, JsonRpcProvider } from 'ethers'
import { stopChild } from './processes.js'
import { freePort } from '../util/ports.js'

/** The usual development mnemonic (Anvil's and Hardhat's): publicly known keys, funded on the local chain only. */
const DEV_MNEMONIC = 'test test test test test test test test test test test junk'
const DEV_ACCOUNTS = 20
/** Each development account's coins (whole units). */
const DEV_BALANCE = 1_000_000_000
/** How often a persisted chain writes its state while it runs, so a killed node loses at most this much. */
const STATE_INTERVAL_SECONDS = 1

export interface DevAccount {
  readonly address: string
  readonly privateKey: string
}

export interface LocalChain {
  readonly rpcUrl: string
  readonly chainId: number
  readonly port: number
  /** The node's working folder (LocalChainOptions.directory). */
  readonly directory: string
  readonly accounts: readonly DevAccount[]
  readonly process: ChildProcess
  /** Where the chain keeps its state across restarts, if it does. */
  readonly stateFile: string | undefined
  output (): string
  /** Stops the node; a persisted chain writes its state first. */
  stop (): Promise<void>
}

export interface LocalChainOptions {
  /** The node's working files go here (its state, when persisted). */
  readonly directory: string
  readonly chainId?: number
  /** 0 or absent: a free port. */
  readonly port?: number
  readonly timeoutMs?: number
  /** Keep the chain's state in `directory/state.json`: a restarted node resumes from it. */
  readonly persist?: boolean
}

export function devAccounts (): DevAccount[] {
  return Array.from({ length: DEV_ACCOUNTS }, (_, index) => {
    const wallet = HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`)
    return { address: wallet.address, privateKey: wallet.privateKey }
  })
}

/**
 * Anvil's binary, from Foundry's platform package on the npm registry (an optional dependency: the
 * registry this project installs from carries the linux-x64 build, which CI and the development
 * machines run). Run directly, so that a signal reaches the node itself.
 */
export function anvilBinary (): string {
  const name = `@foundry-rs/anvil-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`
  let packageJson: string
  try {
    packageJson = createRequire(import.meta.url).resolve(`${name}/package.json`)
  } catch {
    throw new Error(`the local chain needs Anvil (${name}), which is not installed for ${process.platform}-${process.arch}: install it with "npm install --no-save ${name}"`)
  }
  return join(dirname(packageJson), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
}

/**
 * Starts a real EVM node on 127.0.0.1 (Foundry's Anvil, from the npm registry) and waits until it
 * answers JSON-RPC with the right chain id. It mines a block per transaction and funds the 20
 * development accounts. With `persist`, it loads its state at start and keeps writing it.
 */
export async function startLocalChain (options: LocalChainOptions): Promise<LocalChain> {
  const chainId = options.chainId ?? 31337
  const port = options.port || await freePort()
  const timeoutMs = options.timeoutMs ?? 60_000
  await mkdir(options.directory, { recursive: true })
  const stateFile = options.persist ? join(options.directory, 'state.json') : undefined
  const args = [
    '--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId),
    // A billion coins each: at BTT's real price (about US$0.0000006) a demo's deposits run to thousands.
    '--mnemonic', DEV_MNEMONIC, '--accounts', String(DEV_ACCOUNTS), '--balance', String(DEV_BALANCE), '--hardfork', 'cancun',
    ...(stateFile ? ['--state', stateFile, '--state-interval', String(STATE_INTERVAL_SECONDS)] : [])
  ]
  const child = spawn(anvilBinary(), args, { cwd: options.directory, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-20_000) }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const spawned = new Promise<Error | undefined>((resolve) => { child.once('spawn', () => resolve(undefined)).once('error', resolve) })
  const failedToSpawn = await spawned
  if (failedToSpawn) throw new Error(`cannot start the local chain (${anvilBinary()}): ${failedToSpawn.message}`)
  const rpcUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the local chain exited with ${child.exitCode}: ${output.trim().slice(-2000)}`)
    if (output.includes('Listening on')) {
      const provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true })
      try {
        const answered = await provider.send('eth_chainId', []) as string
        if (Number(BigInt(answered)) !== chainId) throw new Error(`the chain answered with id ${Number(BigInt(answered))}, not ${chainId}`)
        break
      } catch (err) {
        if (Date.now() > deadline) {
          await stopChild(child, 'SIGKILL')
          throw err
        }
      } finally {
        provider.destroy()
      }
    }
    if (Date.now() > deadline) {
      await stopChild(child, 'SIGKILL')
      throw new Error(`the local chain did not start within ${timeoutMs} ms: ${output.trim().slice(-2000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { rpcUrl, chainId, port, directory: options.directory, accounts: devAccounts(), process: child, stateFile, output: () => output, stop: () => stopChild(child) }
}
