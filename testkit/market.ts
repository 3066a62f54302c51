import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { VoucherTotals } from '../src/api/types.js'
import { startDaemon, tempDir, type RunningDaemon } from './daemon.js'
import { runCli, waitFor, type Cleanup } from './process.js'

export const PASSPHRASE = 'market test passphrase'
export const MiB = 1024 * 1024

export interface MarketDaemonOptions {
  readonly env?: NodeJS.ProcessEnv
  /** Import this private key (hex) instead of creating a new wallet. */
  readonly privateKey?: string
  readonly args?: readonly string[]
}

/** A daemon with its own wallet, unlocked from the environment as an unattended daemon is. */
export async function marketDaemon (t: Cleanup, options: MarketDaemonOptions = {}): Promise<{ daemon: RunningDaemon, wallet: string }> {
  const dataDir = await tempDir(t, 'bidtorrent-market-')
  const env = { BIDTORRENT_PASSPHRASE: PASSPHRASE }
  let created
  if (options.privateKey) {
    const keyFile = join(dataDir, 'key.hex')
    await writeFile(keyFile, options.privateKey, { mode: 0o600 })
    created = await runCli(['wallet', 'import', '--key-file', keyFile, '--data-dir', dataDir, '--json'], env)
  } else {
    created = await runCli(['wallet', 'create', '--data-dir', dataDir, '--json'], env)
  }
  if (created.code !== 0) throw new Error(`wallet setup failed: ${created.stderr}`)
  const daemon = await startDaemon(t, { dataDir, env: { ...env, ...options.env }, ...(options.args ? { args: options.args } : {}) })
  return { daemon, wallet: (JSON.parse(created.stdout) as { tron: string }).tron }
}

export async function totals (daemon: RunningDaemon, which: 'earnings' | 'spending'): Promise<VoucherTotals> {
  return daemon.api.request<VoucherTotals>('GET', `/v1/${which}`)
}

/** Waits until the daemon's earnings or spending reach `expected` exactly (and says what it saw if not). */
export async function waitTotal (daemon: RunningDaemon, which: 'earnings' | 'spending', expected: bigint, timeoutMs = 60_000): Promise<VoucherTotals> {
  let last: VoucherTotals | undefined
  return waitFor(`${which} of ${expected}`, async () => {
    last = await totals(daemon, which)
    return BigInt(last.total) === expected ? last : undefined
  }, timeoutMs).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; last seen ${last?.total ?? 'nothing'}`)
  })
}
