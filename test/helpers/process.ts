import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const BIN = join(ROOT, 'bin', 'bidtorrent.js')
/** The Node flags on bin/bidtorrent.js's `#!` line, so a spawned daemon runs as an installed one does. */
export const BIN_NODE_FLAGS: readonly string[] = readFileSync(BIN, 'utf8').split('\n', 1)[0]!.replace(/^#!\S+(\s+-S)?\s+node\s*/, '').split(/\s+/).filter(Boolean)

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

/** Stops a child: the given signal first, SIGKILL if it lingers. */
export async function stopProcess (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
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
