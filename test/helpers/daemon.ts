import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient } from '../../src/cli/client.js'
import type { TorrentView } from '../../src/daemon/service.js'
import { BIN, BIN_NODE_FLAGS, stopProcess, waitFor, type Cleanup } from './process.js'

export interface RunningDaemon {
  readonly dataDir: string
  readonly process: ChildProcess
  readonly api: ApiClient
  readonly peerPort: number
  readonly apiPort: number
  logs (): string
  /** SIGTERM and wait (SIGKILL past the grace period). */
  stop (): Promise<void>
  /** SIGKILL: no chance to flush anything. */
  kill (): Promise<void>
  torrent (id: string): Promise<TorrentView>
}

export interface DaemonOptions {
  readonly dataDir?: string
  readonly args?: readonly string[]
  readonly env?: NodeJS.ProcessEnv
  /** Keep the DHT on (bootstrap it with BIDTORRENT_DHT_BOOTSTRAP). */
  readonly dht?: boolean
}

export async function tempDir (t: Cleanup, prefix = 'bidtorrent-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Starts `bidtorrent daemon` as a real child process on 127.0.0.1 (DHT and LSD off, ports picked free). */
export async function startDaemon (t: Cleanup, options: DaemonOptions = {}): Promise<RunningDaemon> {
  const dataDir = options.dataDir ?? await tempDir(t, 'bidtorrent-daemon-')
  await rm(join(dataDir, 'api.json'), { force: true })
  const child = spawn(process.execPath, [...BIN_NODE_FLAGS, BIN, 'daemon', '--data-dir', dataDir, '--port', '0', '--api-port', '0', ...(options.dht ? [] : ['--no-dht']), '--no-lsd', ...(options.args ?? [])], {
    env: { ...process.env, BIDTORRENT_LOG_FORMAT: 'json', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(() => stopProcess(child))
  const api = await waitFor('daemon API', async () => {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}: ${output}`)
    await readFile(join(dataDir, 'api.json'))
    const client = await ApiClient.forDataDir(dataDir)
    await client.request('GET', '/v1/status')
    return client
  }, 60_000)
  const status = await api.request<{ peerPort: number; apiPort: number }>('GET', '/v1/status')
  return {
    dataDir,
    process: child,
    api,
    peerPort: status.peerPort,
    apiPort: status.apiPort,
    logs: () => output,
    stop: () => stopProcess(child),
    kill: () => stopProcess(child, 'SIGKILL'),
    torrent: (id) => api.request<TorrentView>('GET', `/v1/torrents/${id}`)
  }
}

export async function waitComplete (daemon: RunningDaemon, infoHash: string, timeoutMs = 300_000): Promise<TorrentView> {
  return waitFor(`torrent ${infoHash} to complete`, async () => {
    const torrent = await daemon.torrent(infoHash)
    if (torrent.state === 'error') throw new Error(torrent.error ?? 'torrent failed')
    return torrent.pieceCount !== null && torrent.verifiedPieces === torrent.pieceCount ? torrent : undefined
  }, timeoutMs, 250)
}
