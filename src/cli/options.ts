import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { defaultDataDir } from '../config/settings.js'
import { UsageError } from '../util/errors.js'
import { isPeerAddress } from '../util/address.js'
import { parseRate } from '../util/units.js'
import { ApiClient } from '../api/client.js'

/** Options every client command takes. */
export interface CommonOptions {
  dataDir?: string
  json?: boolean
}

export function dataDirOf (options: CommonOptions): string {
  return options.dataDir ? resolve(options.dataDir) : defaultDataDir()
}

/** A flag's whole number within a range, or a usage error that names the flag. */
export function wholeNumber (flag: string, text: string, min: number, max: number): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`${flag} "${text}": a whole number from ${min} to ${max}`)
  return value
}

/** The folder of `bidtorrent devnet`: the one given, or `devnet` in the default data directory. */
export function devnetDirOf (dataDir: string | undefined): string {
  return dataDir ? resolve(dataDir) : join(defaultDataDir(), 'devnet')
}

/** The control API of the daemon running on the command's data directory. */
export async function client (options: CommonOptions): Promise<ApiClient> {
  return ApiClient.forDataDir(dataDirOf(options))
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

/** For a repeatable flag: every value given, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/**
 * `text` once `parse` (the parser the daemon's API schema reads it with) accepts it: a typo exits 2
 * here, and the daemon's edge is still the one place the text becomes a value.
 */
export function checkedText (text: string, parse: (text: string) => unknown): string {
  parse(text)
  return text
}

/** A rate flag checked here (exit 2 on a typo) and sent as written: the daemon reads it with the same parser. */
export function validateRate (text: string | undefined, flag: string): string | undefined {
  if (text === undefined) return undefined
  try {
    parseRate(text)
  } catch {
    throw new UsageError(`${flag}: invalid rate "${text}" (examples: 20MiB/s, 500KB/s, 0 for unlimited)`)
  }
  return text
}

export function validatePeers (peers: string[] | undefined): string[] {
  for (const peer of peers ?? []) {
    if (!isPeerAddress(peer)) throw new UsageError(`--peer: "${peer}" is not HOST:PORT`)
  }
  return peers ?? []
}
