import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiClient } from '../api/client.js'
import { PROJECT_ROOT } from '../util/project.js'

export { PROJECT_ROOT }
export const BIN = join(PROJECT_ROOT, 'bin', 'bidtorrent.js')
/** The V8 flags on the bin's `#!` line, so a daemon started by path runs as `bidtorrent` does. */
export const BIN_NODE_FLAGS: readonly string[] = readFileSync(BIN, 'utf8').split('\n', 1)[0]!.replace(/^#!\S+(\s+-S)?\s+node\s*/, '').split(/\s+/).filter(Boolean)

export interface ChildDaemon {
  readonly dataDir: string
  readonly process: ChildProcess
  readonly api: ApiClient
  readonly peerPort: number
  readonly apiPort: number
  /** What the daemon wrote to stdout and stderr. */
  output (): string
  stop (): Promise<void>
}

/** Stops a child: the signal, then SIGKILL past the grace period. */
export async function stopChild (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

export interface ChildDaemonOptions {
  /** Keep the DHT on (it is off by default: a demo or a test stays on 127.0.0.1). */
  readonly dht?: boolean | undefined
  readonly timeoutMs?: number
}

/**
 * Starts `bidtorrent daemon` as a child process on 127.0.0.1 with free ports and no DHT or local
 * discovery, and waits for its control API.
 */
export async function startChildDaemon (dataDir: string, env: NodeJS.ProcessEnv, args: readonly string[] = [], options: ChildDaemonOptions = {}): Promise<ChildDaemon> {
  const timeoutMs = options.timeoutMs ?? 60_000
  await rm(join(dataDir, 'api.json'), { force: true })
  const child = spawn(process.execPath, [...BIN_NODE_FLAGS, BIN, 'daemon', '--data-dir', dataDir, '--port', '0', '--api-port', '0', ...(options.dht ? [] : ['--no-dht']), '--no-lsd', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the daemon in ${dataDir} exited with ${child.exitCode}: ${output.trim()}`)
    try {
      const api = await ApiClient.forDataDir(dataDir)
      const status = await api.request<{ peerPort: number, apiPort: number }>('GET', '/v1/status')
      return { dataDir, process: child, api, peerPort: status.peerPort, apiPort: status.apiPort, output: () => output, stop: () => stopChild(child) }
    } catch (err) {
      if (Date.now() > deadline) {
        await stopChild(child, 'SIGKILL')
        throw new Error(`the daemon in ${dataDir} did not start: ${(err as Error).message}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}
