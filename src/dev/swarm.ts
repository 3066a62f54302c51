import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TorrentView } from '../api/types.js'
import { createTorrentFrom } from '../engine/create.js'
import type { TorrentMeta } from '../engine/metainfo.js'
import { readablePrice } from '../money/price.js'
import { freePort } from '../util/ports.js'
import { formatBytes, formatRate } from '../util/units.js'
import { createWallet } from '../wallet/keystore.js'
import { startChildDaemon, type ChildDaemon } from './processes.js'
import { readChannelBooks, steadyChannelBooks } from './swarm-books.js'
import { peerRows, SeederUploads, watchDownload } from './swarm-progress.js'
import type { DaemonPeer, ExternalRow, SwarmOptions, SwarmPeerRow, SwarmResult, SwarmTracker } from './swarm-types.js'

/**
 * A swarm on 127.0.0.1 that behaves like one: a seeder with a capped upload, leechers whose uploads
 * are capped well below it (home uplinks), a tracker, peer exchange on, some leechers bidding and
 * some not (bidtorrent peers without a wallet, and any other client the caller starts), all real
 * daemons in their own processes. Leechers trade among themselves as usual; what a bid buys is
 * measured against that, with both sides' books read back at the end.
 */

// The swarm's vocabulary is part of what this module offers.
export type { ChannelBooks } from './swarm-books.js'
export type { ExternalPeer, ExternalPeerStarter, LeecherSpec, PeerKind, SwarmOptions, SwarmPeerRow, SwarmResult, SwarmTracker, TrackerStarter } from './swarm-types.js'

const PASSPHRASE_BYTES = 18
/** How often a new seeder is asked whether it has checked its data and seeds. */
const SEEDER_POLL_MS = 200

async function writeRandomFile (path: string, size: number): Promise<void> {
  const file = await open(path, 'w')
  try {
    for (let written = 0; written < size;) {
      const chunk = randomBytes(Math.min(4 * 1024 * 1024, size - written))
      await file.write(chunk)
      written += chunk.length
    }
  } finally {
    await file.close()
  }
}

/** What a run started, each added as soon as it runs: all of it is stopped at the end, whatever happened. */
interface SwarmProcesses {
  readonly daemons: ChildDaemon[]
  readonly externals: ExternalRow[]
  tracker: SwarmTracker | undefined
}

/** What every step of one run shares. */
interface SwarmRun {
  readonly options: SwarmOptions
  readonly root: string
  /** The passphrase of every wallet in the swarm: made up for the run. */
  readonly passphrase: string
  readonly status: (line: string) => void
  readonly processes: SwarmProcesses
  /** The seeder sells (a floor above zero); otherwise the market is off and the seeder has no wallet. */
  readonly selling: boolean
}

/** The swarm's torrent: the seeder's copy of the content, the .torrent file and its metainfo. */
interface SwarmTorrent {
  readonly contentDir: string
  readonly torrentFile: string
  readonly meta: TorrentMeta
}

/** Runs the swarm to completion and reads back every peer's time and both sides of every channel. */
export async function runSwarm (options: SwarmOptions): Promise<SwarmResult> {
  const root = options.directory ?? await mkdtemp(join(tmpdir(), 'bidtorrent-swarm-'))
  const run: SwarmRun = {
    options,
    root,
    passphrase: randomBytes(PASSPHRASE_BYTES).toString('base64'),
    status: options.onStatus ?? (() => {}),
    processes: { daemons: [], externals: [], tracker: undefined },
    selling: options.floor > 0n
  }
  try {
    return await runToCompletion(run)
  } finally {
    await stopSwarm(run)
  }
}

async function runToCompletion (run: SwarmRun): Promise<SwarmResult> {
  const { options } = run
  const torrent = await publishTorrent(run)
  const { infoHash } = torrent.meta
  const seeder = await startSeeder(run, torrent)
  const leechers = await startLeechers(run)
  const wallets: Record<string, string> = {}
  if (seeder.wallet) wallets.seeder = seeder.wallet
  for (const peer of leechers) if (peer.wallet) wallets[peer.name] = peer.wallet
  await options.beforeStart?.(Object.entries(wallets).map(([name, wallet]) => ({ name, wallet })))
  run.status(`${leechers.length} bidtorrent leechers started (${leechers.filter((peer) => peer.kind === 'bidder').length} bidding), uploads capped at ${options.leecherUploadLimit > 0 ? formatRate(options.leecherUploadLimit) : 'nothing'}, PEX ${options.pex === false ? 'off' : 'on'}`)

  const startedAt = Date.now()
  const deadline = startedAt + options.timeoutSeconds * 1000
  await startDownloads(run, torrent, leechers)
  const seederUploads = new SeederUploads(seeder.daemon, infoHash, run.selling)
  const readRows = (): Promise<SwarmPeerRow[]> => peerRows(leechers, run.processes.externals, infoHash, (Date.now() - startedAt) / 1000)
  const contended = await watchDownload(options, readRows, seederUploads, startedAt, deadline)

  const sellers = seeder.wallet !== null ? [{ name: 'seeder', daemon: seeder.daemon, wallet: seeder.wallet }] : []
  const channels = await steadyChannelBooks(() => readChannelBooks(sellers, leechers, infoHash), deadline)
  const rows = await readRows()
  options.onProgress?.(rows, (Date.now() - startedAt) / 1000)
  await options.afterDone?.(seeder.daemon, infoHash)
  return {
    size: options.size,
    seederUploadLimit: options.seederUploadLimit,
    leecherUploadLimit: options.leecherUploadLimit,
    floor: options.floor.toString(),
    infoHash,
    peers: rows,
    sharesWhileContended: contended,
    freeClassShareWhileContended: seederUploads.freeShare,
    allDoneSeconds: Math.max(...rows.map((row) => row.completedAfter ?? 0)),
    channels,
    seederEarned: channels.reduce((sum, channel) => sum + BigInt(channel.earned), 0n).toString(),
    wallets
  }
}

/** Writes the content (random bytes), makes its torrent, and starts the tracker it names. */
async function publishTorrent (run: SwarmRun): Promise<SwarmTorrent> {
  const contentDir = join(run.root, 'content')
  await mkdir(contentDir, { recursive: true })
  const file = join(contentDir, 'patch.bin')
  await writeRandomFile(file, run.options.size)
  const port = await freePort()
  const meta = await createTorrentFrom(file, { trackers: [`http://127.0.0.1:${port}/announce`] })
  const torrentFile = join(run.root, 'patch.torrent')
  await writeFile(torrentFile, meta.torrentFile)
  run.processes.tracker = await run.options.tracker(port, meta.infoHash, run.root)
  run.status(`tracker on 127.0.0.1:${port}`)
  return { contentDir, torrentFile, meta }
}

async function walletIn (run: SwarmRun, dataDir: string): Promise<string> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  return (await createWallet(dataDir, run.passphrase)).tron
}

/** A daemon's environment: with a wallet, the passphrase and the caller's market settings. */
function daemonEnv (run: SwarmRun, withWallet: boolean): NodeJS.ProcessEnv {
  return withWallet ? { BIDTORRENT_PASSPHRASE: run.passphrase, BIDTORRENT_LOG_LEVEL: 'warn', ...run.options.marketEnv } : { BIDTORRENT_LOG_LEVEL: 'warn' }
}

function torrentBody (torrent: SwarmTorrent, directory: string): Record<string, unknown> {
  return { torrent: torrent.meta.torrentFile.toString('base64'), directory }
}

/** Starts the seeder (with a wallet and a floor when it sells) and waits until it seeds. */
async function startSeeder (run: SwarmRun, torrent: SwarmTorrent): Promise<{ daemon: ChildDaemon, wallet: string | null }> {
  const { options, selling } = run
  const seederDir = join(run.root, 'seeder')
  const wallet = selling ? await walletIn(run, seederDir) : null
  await mkdir(seederDir, { recursive: true })
  const daemon = await startChildDaemon(seederDir, daemonEnv(run, selling), ['--upload-limit', String(options.seederUploadLimit)])
  run.processes.daemons.push(daemon)
  await daemon.api.request('POST', '/v1/torrents', { ...torrentBody(torrent, torrent.contentDir), ...(selling ? { floor: options.floor.toString() } : {}) })
  for (;;) {
    const view = await daemon.api.request<TorrentView>('GET', `/v1/torrents/${torrent.meta.infoHash}`)
    if (view.state === 'seeding') break
    if (view.state === 'error') throw new Error(`the seeder cannot seed: ${view.error ?? 'unknown error'}`)
    await sleep(SEEDER_POLL_MS)
  }
  run.status(`seeder ready: ${torrent.meta.name}, ${formatBytes(options.size)}, upload capped at ${formatRate(options.seederUploadLimit)}${selling ? `, floor ${readablePrice(options.floor)}` : ', market off'}`)
  return { daemon, wallet }
}

/** Starts every leecher's daemon: those that bid with a wallet, the others as plain peers. */
async function startLeechers (run: SwarmRun): Promise<DaemonPeer[]> {
  const { options } = run
  const leecherArgs = [...(options.leecherUploadLimit > 0 ? ['--upload-limit', String(options.leecherUploadLimit)] : []), ...(options.pex === false ? ['--no-pex'] : [])]
  return Promise.all(options.leechers.map(async (spec): Promise<DaemonPeer> => {
    const dataDir = join(run.root, spec.name)
    const wallet = spec.bid > 0n ? await walletIn(run, dataDir) : null
    await mkdir(dataDir, { recursive: true })
    const daemon = await startChildDaemon(dataDir, daemonEnv(run, wallet !== null), leecherArgs)
    run.processes.daemons.push(daemon)
    return { name: spec.name, kind: wallet ? 'bidder' : 'free', bid: spec.bid, budget: spec.budget, daemon, wallet, completedAfter: null }
  }))
}

/** Adds the torrent to every leecher (with its bid and budget) and starts the other clients' peers. */
async function startDownloads (run: SwarmRun, torrent: SwarmTorrent, leechers: readonly DaemonPeer[]): Promise<void> {
  const { externals } = run.processes
  await Promise.all(leechers.map(({ daemon, bid, budget }) => daemon.api.request('POST', '/v1/torrents', {
    ...torrentBody(torrent, join(daemon.dataDir, 'download')),
    ...(bid > 0n ? { bid: bid.toString(), budget: budget.toString() } : {})
  })))
  for (const [index, start] of (run.options.externalPeers ?? []).entries()) {
    const saveDir = join(run.root, `external-${index + 1}`)
    await mkdir(saveDir, { recursive: true })
    externals.push({ peer: await start(torrent.torrentFile, saveDir), completedAfter: null, lastDownloaded: 0, rate: 0 })
  }
  if (externals.length > 0) run.status(`${externals.map((row) => row.peer.name).join(', ')} started`)
}


/** Stops every peer and the tracker; a kept swarm keeps each daemon's log beside its data, a temporary one is removed. */
async function stopSwarm (run: SwarmRun): Promise<void> {
  const { daemons, externals, tracker } = run.processes
  const kept = Boolean(run.options.directory)
  await Promise.all([...externals.map((row) => row.peer.stop()), ...daemons.map((daemon) => daemon.stop())])
  if (kept) await Promise.all(daemons.map((daemon) => writeFile(join(daemon.dataDir, 'daemon.log'), daemon.output()).catch(() => {})))
  await tracker?.close()
  if (!kept) await rm(run.root, { recursive: true, force: true })
}

/** The top bidder's speed-up over the median free peer (their completion times' ratio), or null without both. */
export function topBidderSpeedup (result: Pick<SwarmResult, 'peers'>): number | null {
  const bidders = result.peers.filter((peer) => peer.kind === 'bidder')
  const top = bidders.reduce<SwarmPeerRow | undefined>((best, peer) => (!best || BigInt(peer.bid) > BigInt(best.bid) ? peer : best), undefined)
  const free = result.peers.filter((peer) => peer.kind !== 'bidder').map((peer) => peer.completedAfter).filter((time): time is number => time !== null).sort((a, b) => a - b)
  if (!top?.completedAfter || free.length === 0) return null
  const middle = free.length / 2
  const median = free.length % 2 === 1 ? free[Math.floor(middle)]! : (free[middle - 1]! + free[middle]!) / 2
  return median / top.completedAfter
}
