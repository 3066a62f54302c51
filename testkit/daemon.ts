import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ApiEndpoint, TorrentView } from '../src/api/types.js'
import { startChildDaemon, stopChild, type ChildDaemon } from '../src/dev/processes.js'
import { writeFixture, type FixtureFile } from './fixture.js'
import { runCli, waitFor, type Cleanup } from './process.js'

/** A daemon under test: stopped with SIGTERM (`stop`, SIGKILL past the grace period) or killed. */
export interface RunningDaemon extends ChildDaemon {
  logs (): string
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

/** Starts `bidtorrent daemon` as a real child process on 127.0.0.1 (DHT and LSD off, ports picked free), stopped at teardown. */
export async function startDaemon (t: Cleanup, options: DaemonOptions = {}): Promise<RunningDaemon> {
  const dataDir = options.dataDir ?? await tempDir(t, 'bidtorrent-daemon-')
  const child = await startChildDaemon(dataDir, { BIDTORRENT_LOG_FORMAT: 'json', ...options.env }, options.args ?? [], { dht: options.dht })
  t.teardown(() => child.stop())
  return {
    ...child,
    logs: () => child.output(),
    kill: () => stopChild(child.process, 'SIGKILL'),
    torrent: (id) => child.api.request<TorrentView>('GET', `/v1/torrents/${id}`)
  }
}

/** The daemon's api.json: its API's address and token (the password of its Transmission RPC). */
export async function endpointOf (daemon: { readonly dataDir: string }): Promise<ApiEndpoint> {
  return JSON.parse(await readFile(join(daemon.dataDir, 'api.json'), 'utf8')) as ApiEndpoint
}

export async function waitComplete (daemon: RunningDaemon, infoHash: string, timeoutMs = 300_000): Promise<TorrentView> {
  return waitFor(`torrent ${infoHash} to complete`, async () => {
    const torrent = await daemon.torrent(infoHash)
    if (torrent.state === 'error') throw new Error(torrent.error ?? 'torrent failed')
    // Done: every piece, or (some files skipped) every piece of the chosen files.
    return torrent.pieceCount !== null && (torrent.verifiedPieces === torrent.pieceCount || torrent.state === 'seeding') ? torrent : undefined
  }, timeoutMs, 250)
}

/** A tap test as the helpers below use it: clean-up, and one assertion. */
export interface Checked extends Cleanup {
  equal (found: unknown, wanted: unknown, message: string): unknown
}

export interface Seeded {
  /** A fresh folder: the content is in `source`, the .torrent is `torrentFile`. */
  readonly work: string
  readonly files: FixtureFile[]
  readonly torrent: TorrentView
  readonly torrentFile: string
}

/**
 * Writes one file of `size` random bytes in a fresh folder and seeds it from `daemon` with `bidtorrent
 * seed` and `flags` (the command's success is one of the test's assertions), saving the .torrent.
 */
export async function seedFile (t: Checked, daemon: { readonly dataDir: string }, name: string, size: number, flags: readonly string[] = []): Promise<Seeded> {
  const work = await tempDir(t)
  const files = [{ path: name, size }]
  await writeFixture(join(work, 'source'), files)
  const torrentFile = join(work, `${name}.torrent`)
  const seeded = await runCli(['seed', join(work, 'source', name), ...flags, '--save-torrent', torrentFile, '--data-dir', daemon.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  return { work, files, torrent: JSON.parse(seeded.stdout) as TorrentView, torrentFile }
}
