import { resolve } from 'node:path'
import type { Command } from 'commander'
import { defaultDataDir } from '../config/settings.js'

/** Options every client command takes. */
export interface CommonOptions {
  dataDir?: string
  json?: boolean
}

export function dataDirOf (options: CommonOptions): string {
  return options.dataDir ? resolve(options.dataDir) : defaultDataDir()
}

/** JSON for scripts with --json, the human text otherwise. */
export function print (options: CommonOptions, value: unknown, human: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`)
}

export function common (command: Command): Command {
  return command
    .option('--data-dir <dir>', 'the daemon\'s data directory (default: $BIDTORRENT_DATA_DIR or ~/.bidtorrent)')
    .option('--json', 'machine-readable output')
}
