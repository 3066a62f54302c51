import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTorrentFrom } from '../../src/engine/create.js'
import { startLibtorrent } from '../../testkit/clients.js'
import { startDaemon, tempDir, type RunningDaemon } from '../../testkit/daemon.js'
import { writeFixture } from '../../testkit/fixture.js'
import { createNamespaceLink, type NamespaceLink } from '../../testkit/netns.js'
import { run, waitFor } from '../../testkit/process.js'
import { CleanupStack } from '../lib/cleanup.js'
import { downloadWith } from '../lib/leecher.js'
import type { Goal } from '../lib/report.js'
import type { ClientName } from '../lib/types.js'

/** The shaped link: tbf at 100 Mbit/s each way (netem does not work here). */
export const LINK_MBIT = 100

export interface UtpRun {
  readonly path: 'loopback' | `${number} Mbit/s link`
  readonly transport: 'utp' | 'tcp'
  readonly seeder: ClientName
  readonly leecher: ClientName
  readonly bytes: number
  readonly seconds: number
  readonly mibPerSecond: number
}

export interface UtpResult {
  readonly loopback: UtpRun[]
  readonly link: UtpRun[]
  /** What the link carries, in MiB/s of payload at most. */
  readonly linkMiBPerSecond: number
}

const TCP_OFF = { BIDTORRENT_TCP: 'false' }
const UTP_OFF = { BIDTORRENT_UTP: 'false' }

interface Payload { readonly torrentFile: string, readonly data: string, readonly bytes: number, readonly infoHash: string }

async function payload (cleanup: CleanupStack, bytes: number): Promise<Payload> {
  const work = await mkdtemp(join(tmpdir(), 'bidtorrent-bench-utp-'))
  cleanup.teardown(() => rm(work, { recursive: true, force: true }))
  const data = join(work, 'data')
  await writeFixture(data, [{ path: 'utp.bin', size: bytes }])
  const meta = await createTorrentFrom(join(data, 'utp.bin'), { pieceLength: 1024 * 1024 })
  const torrentFile = join(work, 'utp.torrent')
  await writeFile(torrentFile, meta.torrentFile)
  return { torrentFile, data, bytes, infoHash: meta.infoHash }
}

async function btSeeder (cleanup: CleanupStack, load: Payload, env: NodeJS.ProcessEnv): Promise<RunningDaemon> {
  const seeder = await startDaemon(cleanup, { args: ['--log-level', 'warn'], env })
  await seeder.api.request('POST', '/v1/torrents', { torrent: (await readFile(load.torrentFile)).toString('base64'), directory: load.data })
  await waitFor('the bidtorrent seeder to check its data', async () => ((await seeder.torrent(load.infoHash)).state === 'seeding' ? true : undefined), 600_000)
  return seeder
}

/** One transfer, timed inside the leecher; with `link`, libtorrent runs in its namespace and bidtorrent here. */
async function transfer (load: Payload, seeder: ClientName, leecher: ClientName, transport: 'utp' | 'tcp', link?: NamespaceLink): Promise<number> {
  const cleanup = new CleanupStack()
  try {
    const env = transport === 'utp' ? TCP_OFF : UTP_OFF
    const ltArgs = ['--transport', transport, '--timeout', '1800', ...(link ? ['--listen', link.namespaceAddress] : [])]
    const btHost = link ? link.hostAddress : '127.0.0.1'
    let from: string
    if (seeder === 'bidtorrent') {
      from = `${btHost}:${(await btSeeder(cleanup, load, env)).peerPort}`
    } else {
      const lt = await startLibtorrent(cleanup, ['--mode', 'seed', '--torrent', load.torrentFile, '--save', load.data, ...ltArgs], link)
      from = `${link ? link.namespaceAddress : '127.0.0.1'}:${lt.port}`
    }
    const out = await tempDir(cleanup, 'bidtorrent-bench-utp-out-')
    if (leecher === 'libtorrent') {
      const lt = await startLibtorrent(cleanup, ['--mode', 'download', '--torrent', load.torrentFile, '--save', out, '--peer', from, ...ltArgs], link)
      return (await lt.done).elapsed
    }
    const daemon = await startDaemon(cleanup, { args: ['--log-level', 'warn'], env })
    const done = await downloadWith(daemon, load.torrentFile, out, [from])
    return (done.completedAt! - done.startedAt) / 1000
  } finally {
    await cleanup.run()
  }
}

async function shape (link: NamespaceLink, mbit: number): Promise<void> {
  for (const [exec, device] of [[false, link.hostInterface], [true, link.namespaceInterface]] as const) {
    const args = ['qdisc', 'add', 'dev', device, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', '64kb', 'latency', '50ms']
    const command = exec ? link.exec('tc', args) : { command: 'tc', args }
    const result = await run(command.command, command.args)
    if (result.code !== 0) throw new Error(`tc ${args.join(' ')}: ${result.stderr.trim()}`)
  }
}

function record (path: UtpRun['path'], transport: UtpRun['transport'], seeder: ClientName, leecher: ClientName, bytes: number, seconds: number): UtpRun {
  const result = { path, transport, seeder, leecher, bytes, seconds, mibPerSecond: bytes / 1024 ** 2 / seconds }
  console.log(`${path}  ${transport}  ${seeder} → ${leecher}: ${seconds.toFixed(2)} s, ${result.mibPerSecond.toFixed(1)} MiB/s`)
  return result
}

/**
 * uTP beside TCP and beside libtorrent's own uTP on loopback, then bidtorrent and libtorrent
 * across a shaped link between this namespace and another, both ways. The link needs root (tc, ip netns).
 */
export async function runUtp (loopbackBytes: number, linkBytes: number): Promise<UtpResult> {
  const cleanup = new CleanupStack()
  try {
    const near = await payload(cleanup, loopbackBytes)
    const loopback: UtpRun[] = []
    const pairings: Array<[ClientName, ClientName, 'utp' | 'tcp']> = [
      ['bidtorrent', 'bidtorrent', 'utp'], ['libtorrent', 'libtorrent', 'utp'], ['bidtorrent', 'libtorrent', 'utp'],
      ['libtorrent', 'bidtorrent', 'utp'], ['bidtorrent', 'bidtorrent', 'tcp']
    ]
    for (const [seeder, leecher, transport] of pairings) loopback.push(record('loopback', transport, seeder, leecher, near.bytes, await transfer(near, seeder, leecher, transport)))

    const far = await payload(cleanup, linkBytes)
    const link = await createNamespaceLink(cleanup)
    await shape(link, LINK_MBIT)
    const path = `${LINK_MBIT} Mbit/s link` as const
    const across: UtpRun[] = []
    for (const [seeder, leecher] of [['bidtorrent', 'libtorrent'], ['libtorrent', 'bidtorrent']] as const) {
      across.push(record(path, 'utp', seeder, leecher, far.bytes, await transfer(far, seeder, leecher, 'utp', link)))
    }
    return { loopback, link: across, linkMiBPerSecond: LINK_MBIT * 1e6 / 8 / 1024 ** 2 }
  } finally {
    await cleanup.run()
  }
}

/** bidtorrent's uTP at least libtorrent's own on loopback; across the link, 80% of it each way. */
export function utpGoals (result: UtpResult | undefined): Goal[] {
  const loopbackFigure = 'uTP on loopback, slowest pairing with bidtorrent / libtorrent → libtorrent'
  const linkFigure = `uTP across a ${LINK_MBIT} Mbit/s link with libtorrent, share of the link, slower direction`
  if (!result) return [{ figure: loopbackFigure, goal: '≥ 1.0', measured: 'not measured', met: null }, { figure: linkFigure, goal: '≥ 0.80', measured: 'not measured', met: null }]
  const utp = result.loopback.filter((entry) => entry.transport === 'utp')
  const reference = utp.find((entry) => entry.seeder === 'libtorrent' && entry.leecher === 'libtorrent')
  const ours = utp.filter((entry) => entry !== reference)
  const slowest = ours.reduce((min, entry) => (entry.mibPerSecond < min.mibPerSecond ? entry : min), ours[0]!)
  const loopbackRatio = reference ? slowest.mibPerSecond / reference.mibPerSecond : 0
  const tcp = result.loopback.find((entry) => entry.transport === 'tcp')
  const slowerLink = result.link.reduce((min, entry) => (entry.mibPerSecond < min.mibPerSecond ? entry : min), result.link[0]!)
  const share = slowerLink.mibPerSecond / result.linkMiBPerSecond
  return [{
    figure: loopbackFigure,
    goal: '≥ 1.0',
    measured: `${loopbackRatio.toFixed(2)} (${slowest.seeder} → ${slowest.leecher} ${slowest.mibPerSecond.toFixed(1)} MiB/s, libtorrent ${reference?.mibPerSecond.toFixed(1) ?? '?'} MiB/s; bidtorrent over TCP ${tcp?.mibPerSecond.toFixed(0) ?? '?'} MiB/s)`,
    met: loopbackRatio >= 1
  }, {
    figure: linkFigure,
    goal: '≥ 0.80',
    measured: `${share.toFixed(2)} (${result.link.map((entry) => `${entry.seeder} → ${entry.leecher} ${entry.mibPerSecond.toFixed(1)} MiB/s`).join(', ')}, of ${result.linkMiBPerSecond.toFixed(1)} MiB/s)`,
    met: share >= 0.8
  }]
}
