import { once } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { defaultDataDir } from '../config/settings.js'
import { UsageError } from '../util/errors.js'

interface DevnetCommandOptions {
  dataDir?: string
  port: string
  chainId: string
  challengePeriod: string
  json?: boolean
}

function whole (flag: string, text: string, min: number, max: number): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`${flag} "${text}": a whole number from ${min} to ${max}`)
  return value
}

/** `bidtorrent devnet`: a local EVM chain with the channel contract, for development and the demo (loaded on use). */
export function addChainCommands (program: Command): void {
  program.command('devnet')
    .description('run a local EVM chain on 127.0.0.1 with the channel contract and a test token, until stopped')
    .option('--data-dir <dir>', 'where the chain\'s files, devnet.json and daemon-config.json go (default: <data dir>/devnet)')
    .option('--port <n>', 'the JSON-RPC port (0 = any free port)', '8545')
    .option('--chain-id <n>', 'the chain id', '31337')
    .option('--challenge-period <seconds>', 'how long a payee may still claim after a refund request', '600')
    .option('--json', 'print the ready line as JSON')
    .action(async (options: DevnetCommandOptions) => {
      const directory = options.dataDir ? resolve(options.dataDir) : join(defaultDataDir(), 'devnet')
      const port = whole('--port', options.port, 0, 65535)
      const chainId = whole('--chain-id', options.chainId, 1, 2 ** 32)
      const challengePeriodSeconds = whole('--challenge-period', options.challengePeriod, 0, 30 * 86_400)
      await mkdir(directory, { recursive: true, mode: 0o700 })
      const { startDevnet, DEVNET_DAEMON_CONFIG } = await import('../settlement/evm/devnet.js')
      const { info, chain } = await startDevnet({ directory, chainId, challengePeriodSeconds, ...(port ? { port } : {}) })
      const config = join(directory, DEVNET_DAEMON_CONFIG)
      process.stdout.write(options.json
        ? `${JSON.stringify({ ready: true, directory, config, ...info, funder: info.funder.address, accounts: info.accounts.map((account) => account.address) })}\n`
        : `ready: chain ${info.chainId} at ${info.rpcUrl}, channel contract ${info.channelContract}, test token ${info.token}\n` +
          `  daemons settle on it with: bidtorrent daemon --config ${config}\n` +
          `  the demo: bidtorrent demo --chain devnet --data-dir ${directory}\n`)
      const stop = async (): Promise<void> => { await chain.stop() }
      process.once('SIGINT', () => { void stop() })
      process.once('SIGTERM', () => { void stop() })
      await once(chain.process, 'exit')
    })
}
