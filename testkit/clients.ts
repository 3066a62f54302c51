import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { freePort } from '../src/util/ports.js'
import type { NamespaceLink } from './netns.js'
import { ROOT, stopProcess, waitFor, type Cleanup } from './process.js'

export { freePort }

/** Debian's python, which can import the Debian libtorrent module (a pyenv python cannot). */
export const SYSTEM_PYTHON = '/usr/bin/python3'
const LT_PEER = join(ROOT, 'testkit', 'lt_peer.py')

export interface Tracker {
  readonly port: number
  readonly http: string
  readonly udp: string
}

/** Runs opentracker on `host` (HTTP and UDP on one port, `port` or a free one) serving the given info hashes. */
export async function startOpentracker (t: Cleanup, dir: string, infoHashes: readonly string[], chosenPort?: number, host = '127.0.0.1'): Promise<Tracker> {
  // opentracker chroots into its directory and drops to "nobody": the folder must be readable by all.
  const root = join(dir, 'tracker')
  await mkdir(root, { recursive: true })
  await chmod(root, 0o755)
  await chmod(dir, 0o755)
  await writeFile(join(root, 'whitelist'), infoHashes.map((hash) => `${hash}\n`).join(''), { mode: 0o644 })
  const port = chosenPort ?? await freePort()
  const child = spawn('opentracker', ['-i', host, '-p', String(port), '-P', String(port), '-d', root, '-w', '/whitelist'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(() => stopProcess(child))
  await waitFor('opentracker to answer', async () => {
    if (child.exitCode !== null) throw new Error(`opentracker exited: ${output}`)
    const response = await fetch(`http://${host}:${port}/stats`)
    return response.status > 0 ? true : undefined
  }, 30_000)
  if (/Can't open accesslist/.test(output)) throw new Error(`opentracker could not read its whitelist: ${output}`)
  return { port, http: `http://${host}:${port}/announce`, udp: `udp://${host}:${port}` }
}

export interface LibtorrentDone {
  readonly downloaded: number
  readonly failed: number
  readonly redundant: number
  /** Seconds from adding the torrent to complete, measured inside libtorrent's process. */
  readonly elapsed: number
}

export interface LibtorrentPeer {
  readonly process: ChildProcess
  readonly port: number
  /** Resolves with libtorrent's final figures when a download completes. */
  readonly done: Promise<LibtorrentDone>
  readonly lines: string[]
}

/** `namespace`: run it there (give it `--listen` with the namespace's address). */
export async function startLibtorrent (t: Cleanup, args: readonly string[], namespace?: NamespaceLink): Promise<LibtorrentPeer> {
  const command = namespace ? namespace.exec(SYSTEM_PYTHON, [LT_PEER, ...args]) : { command: SYSTEM_PYTHON, args: [LT_PEER, ...args] }
  const child = spawn(command.command, command.args, { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => stopProcess(child))
  const lines: string[] = []
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  let resolvePort: (port: number) => void = () => {}
  let rejectPort: (err: Error) => void = () => {}
  const portKnown = new Promise<number>((resolve, reject) => { resolvePort = resolve; rejectPort = reject })
  const done = new Promise<LibtorrentDone>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line)
      const event = JSON.parse(line) as { event: string; port?: number } & Partial<LibtorrentDone>
      if (event.event === 'listening') resolvePort(event.port!)
      if (event.event === 'done') resolve({ downloaded: event.downloaded!, failed: event.failed!, redundant: event.redundant!, elapsed: event.elapsed! })
      if (event.event === 'timeout') reject(new Error('libtorrent timed out'))
    })
    child.once('exit', (code) => {
      const error = new Error(`libtorrent peer exited with ${code}: ${stderr}`)
      rejectPort(error)
      reject(error)
    })
  })
  done.catch(() => {})
  return { process: child, port: await portKnown, done, lines }
}

/** Runs aria2c to download a .torrent into `dir`, with DHT, LPD and PEX off: peers come from the tracker only. */
export async function aria2Download (torrentFile: string, dir: string, listenPort: number): Promise<{ code: number | null; output: string }> {
  const child = spawn('aria2c', [
    `--dir=${dir}`, '--seed-time=0', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false',
    '--enable-peer-exchange=false', `--listen-port=${listenPort}`, '--summary-interval=0', '--console-log-level=warn',
    '--bt-stop-timeout=300', '--follow-torrent=mem', torrentFile
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  return { code, output }
}

/** Waits until the tracker counts at least one seeder for the torrent (HTTP scrape). */
export async function waitForTrackerSeeder (tracker: Tracker, infoHash: string): Promise<void> {
  const bencode = (await import('bencode')).default
  const escaped = Buffer.from(infoHash, 'hex').toString('binary').split('').map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')
  await waitFor('the tracker to list the seeder', async () => {
    const response = await fetch(`${tracker.http.replace(/\/announce$/, '/scrape')}?info_hash=${escaped}`)
    const decoded = bencode.decode(new Uint8Array(await response.arrayBuffer())) as { files?: Map<unknown, unknown> | Record<string, { complete?: number }> }
    const entries = Object.values(decoded.files ?? {}) as Array<{ complete?: number }>
    return entries.some((entry) => (entry.complete ?? 0) >= 1) ? true : undefined
  }, 60_000, 300)
}
