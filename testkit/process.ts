import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { BIN, BIN_NODE_FLAGS } from '../src/dev/processes.js'

export { BIN, BIN_NODE_FLAGS, PROJECT_ROOT as ROOT, stopChild as stopProcess } from '../src/dev/processes.js'

/** Where helpers register their clean-up: a tap test, or the benchmark's own registry. */
export interface Cleanup {
  teardown (fn: () => unknown): void
}

export interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export async function runCli (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return run(process.execPath, [...BIN_NODE_FLAGS, BIN, ...args], env)
}

export async function run (command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Finished> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'close') as [number | null]
  return { code, stdout, stderr }
}

export async function waitFor<T> (what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** Anonymous resident memory in bytes (RssAnon: heap and buffers, not file pages). */
export async function rssAnonBytes (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /^RssAnon:\s+(\d+) kB/m.exec(status)
  return match ? Number(match[1]) * 1024 : 0
}
