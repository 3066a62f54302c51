import { Command, CommanderError } from 'commander'
import { VERSION } from '../daemon/daemon.js'
import { BidtorrentError, UsageError, errorMessage } from '../util/errors.js'
import { addChainCommands } from './commands/chain.js'
import { addDaemonCommand, addStatusCommand } from './commands/daemon.js'
import { addDemoCommand } from './commands/demo.js'
import { addEventsCommand } from './commands/events.js'
import { addFilesCommand } from './commands/files.js'
import { addHealthCommand } from './commands/health.js'
import { addMarketCommands } from './commands/market.js'
import { addTorrentCommands, addTorrentListCommands } from './commands/torrents.js'
import { addUpkeepCommands } from './commands/upkeep.js'
import { addWalletCommands } from './commands/wallet.js'

/** The whole program: its commands, grouped by topic in commands/, in the order `--help` lists them. */
export function buildProgram (): Command {
  const program = new Command()
  program
    .name('bidtorrent')
    .description('A BitTorrent daemon and CLI with a bandwidth market.')
    .version(VERSION)
    // Set before the subcommands are made: commander copies these settings into each of them.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`bidtorrent: ${text.split('\n')[0]!}\n`) })
  addDaemonCommand(program)
  addTorrentCommands(program)
  addTorrentListCommands(program)
  addUpkeepCommands(program)
  addFilesCommand(program)
  addHealthCommand(program)
  addStatusCommand(program)
  addEventsCommand(program)
  addMarketCommands(program)
  const wallet = addWalletCommands(program)
  addDemoCommand(program)
  addChainCommands(program, wallet)
  return program
}

export async function main (argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    // A command that finished but fell short (settle with a dead endpoint) set its own exit code.
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    const usage = err instanceof UsageError || (err instanceof BidtorrentError && err.code === 'EUSAGE')
    process.stderr.write(`bidtorrent: error: ${errorMessage(err)}\n`)
    return usage ? 2 : 1
  }
}
