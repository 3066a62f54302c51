import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { TorrentView } from '../src/api/types.js'
import { createTorrentFrom } from '../src/engine/create.js'
import type { TorrentMeta } from '../src/engine/metainfo.js'
import { parseSize } from '../src/util/units.js'
import { SYSTEM_PYTHON, startLibtorrent } from '../testkit/clients.js'
import { startDaemon } from '../testkit/daemon.js'
import { writeFixture } from '../testkit/fixture.js'
import { ROOT, run, waitFor } from '../testkit/process.js'
import { CleanupStack } from './lib/cleanup.js'
import { judgeGoals, summarize, summarizeSwarm, table, throughputChart } from './lib/report.js'
import type { ClientName, TransferRun } from './lib/types.js'
import { runLargeTorrent, type LargeTorrentResult } from './scenarios/large-torrent.js'
import { runManyPeers, type ManyPeersResult } from './scenarios/many-peers.js'
import { runTransfer, type SeederSet } from './scenarios/one-to-one.js'
import { runSwarm, type SwarmRun } from './scenarios/swarm.js'
import { runMarket } from './scenarios/market.js'
import { creationGoal, runCreation } from './scenarios/create.js'
import { runUtp, utpGoals } from './scenarios/utp.js'

const SCENARIOS = ['1to1', 'swarm', 'peers', 'large', 'market', 'create', 'utp'] as const
/** The scenarios that transfer the payload from the seeders started at the beginning. */
const TRANSFERS: readonly Scenario[] = ['1to1', 'swarm', 'peers', 'market']
type Scenario = typeof SCENARIOS[number]

const usage = `usage: npm run bench -- [--quick] [--size SIZE] [--reps N] [--leechers N] [--peers N] [--studio SIZE,FILES] [--only LIST] [--out DIR] [--cold]
  --quick     64 MiB, 2 repetitions: a smoke test (CI runs this)
  --size      torrent size for the transfer scenarios (default 1GiB)
  --reps      repetitions of each pairing, alternated (default 5)
  --leechers  leechers in the swarm scenario (default 8)
  --peers     peers connected to one seeder in the peers scenario (default 200)
  --large     torrent sizes for the large scenario, smallest first (default 1GiB,8GiB; quick 64MiB,512MiB)
  --studio    the folder the create scenario makes a torrent of, against mktorrent (default 4GiB,2000 files; quick 32MiB,200)
  --only      comma-separated scenarios: ${SCENARIOS.join(', ')} (default all)
  --out       where results.json and throughput.svg go (default bench/results/<time>)
  --cold      skip the page-cache warm-up before each leecher (see bench/lib/page-cache.ts)`

interface Options {
  readonly bytes: number
  readonly reps: number
  readonly leechers: number
  readonly peers: number
  readonly largeSizes: readonly number[]
  readonly studio: { readonly bytes: number, readonly files: number }
  readonly scenarios: readonly Scenario[]
  readonly out: string
  readonly quick: boolean
  readonly warm: boolean
}

function count (text: string | undefined, fallback: number, flag: string): number {
  const value = Number(text ?? fallback)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} takes a whole number from 1`)
  return value
}

function studioOf (text: string): Options['studio'] {
  const [size, files] = text.split(',')
  return { bytes: parseSize(size ?? ''), files: count(files, 2000, '--studio\'s file count') }
}

function options (): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      cold: { type: 'boolean', default: false },
      size: { type: 'string' },
      reps: { type: 'string' },
      leechers: { type: 'string' },
      peers: { type: 'string' },
      large: { type: 'string' },
      studio: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    console.log(usage)
    process.exit(0)
  }
  const quick = values.quick ?? false
  const scenarios = (values.only ?? SCENARIOS.join(',')).split(',').map((name) => name.trim())
  for (const name of scenarios) if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`--only: unknown scenario "${name}" (${SCENARIOS.join(', ')})`)
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  return {
    quick,
    warm: !(values.cold ?? false),
    bytes: parseSize(values.size ?? (quick ? '64MiB' : '1GiB')),
    reps: count(values.reps, quick ? 2 : 5, '--reps'),
    leechers: count(values.leechers, 8, '--leechers'),
    peers: count(values.peers, 200, '--peers'),
    largeSizes: (values.large ?? (quick ? '64MiB,512MiB' : '1GiB,8GiB')).split(',').map((size) => parseSize(size)),
    studio: studioOf(values.studio ?? (quick ? '32MiB,200' : '4GiB,2000')),
    scenarios: scenarios as Scenario[],
    out: values.out ?? join(ROOT, 'bench', 'results', stamp)
  }
}

async function libtorrentVersion (): Promise<string | null> {
  const result = await run(SYSTEM_PYTHON, ['-c', 'import libtorrent; print(libtorrent.__version__)']).catch(() => null)
  return result?.code === 0 ? result.stdout.trim() : null
}

/** The payload the transfer scenarios send, and its seeders: bidtorrent, and libtorrent when installed. */
async function startSeeders (opts: Options, cleanup: CleanupStack, lt: string | null): Promise<{ data: string, meta: TorrentMeta, torrentFile: string, seeders: SeederSet }> {
  const work = await mkdtemp(join(tmpdir(), 'bidtorrent-bench-'))
  cleanup.teardown(() => rm(work, { recursive: true, force: true }))
  const data = join(work, 'data')
  await writeFixture(data, [{ path: 'payload.bin', size: opts.bytes }])
  const meta = await createTorrentFrom(join(data, 'payload.bin'), { pieceLength: 1024 * 1024 })
  const torrentFile = join(work, 'payload.torrent')
  await writeFile(torrentFile, meta.torrentFile)

  const btSeeder = await startDaemon(cleanup, { args: ['--log-level', 'warn'] })
  await btSeeder.api.request<TorrentView>('POST', '/v1/torrents', { torrent: (await readFile(torrentFile)).toString('base64'), directory: data })
  await waitFor('the bidtorrent seeder to check its data', async () => ((await btSeeder.torrent(meta.infoHash)).state === 'seeding' ? true : undefined), 600_000)
  const btPid = (await btSeeder.api.request<{ pid: number }>('GET', '/v1/status')).pid
  const seeders: { -readonly [K in keyof SeederSet]: SeederSet[K] } = {
    torrentFile,
    bytes: opts.bytes,
    bidtorrent: { address: `127.0.0.1:${btSeeder.peerPort}`, pid: btPid }
  }
  if (lt) {
    const ltSeeder = await startLibtorrent(cleanup, ['--mode', 'seed', '--torrent', torrentFile, '--save', data, '--timeout', '86400'])
    await waitFor('the libtorrent seeder to check its data', () => (ltSeeder.lines.some((line) => line.includes('"seeding": true')) ? true : undefined), 600_000)
    seeders.libtorrent = { address: `127.0.0.1:${ltSeeder.port}`, pid: ltSeeder.process.pid! }
  }
  return { data, meta, torrentFile, seeders }
}

async function main (): Promise<void> {
  const opts = options()
  const cleanup = new CleanupStack()
  process.on('SIGINT', () => { void cleanup.run().then(() => process.exit(130)) })
  try {
    const lt = await libtorrentVersion()
    console.log(`reference clients: libtorrent ${lt ? `${lt} (found, ${SYSTEM_PYTHON})` : 'NOT FOUND: skipped (install python3-libtorrent; ratios unavailable)'}`)
    console.log(`size ${(opts.bytes / 1024 ** 2).toFixed(0)} MiB, ${opts.reps} repetitions${opts.quick ? ' (quick mode)' : ''}, page cache ${opts.warm ? 'warmed before each leecher' : 'cold (--cold)'}\n`)

    // First, while nothing else runs: creation is timed against mktorrent on an idle machine.
    const creation = opts.scenarios.includes('create') ? await runCreation(opts.studio.bytes, opts.studio.files, opts.reps, lt !== null) : undefined
    const payload = opts.scenarios.some((scenario) => TRANSFERS.includes(scenario)) ? await startSeeders(opts, cleanup, lt) : undefined
    const { data, meta, torrentFile, seeders } = payload ?? {}

    const clients: ClientName[] = lt ? ['bidtorrent', 'libtorrent'] : ['bidtorrent']
    const pairings: Array<[ClientName, ClientName]> = lt
      ? [['bidtorrent', 'bidtorrent'], ['libtorrent', 'libtorrent'], ['libtorrent', 'bidtorrent'], ['bidtorrent', 'libtorrent']]
      : [['bidtorrent', 'bidtorrent']]
    const runs: TransferRun[] = []
    for (let rep = 1; rep <= opts.reps && opts.scenarios.includes('1to1'); rep++) {
      // Alternate the clients within each repetition, so drift in the machine's load hits all alike.
      for (const [seeder, leecher] of pairings) {
        const result = await runTransfer('1→1', seeders!, seeder, leecher, rep, opts.warm)
        runs.push(result)
        console.log(`rep ${rep}  ${seeder} → ${leecher}: ${result.seconds.toFixed(2)} s, ${(result.bytes / 1024 ** 2 / result.seconds).toFixed(0)} MiB/s, leecher ${result.leecherCpuSeconds.toFixed(2)} CPU-s`)
      }
    }

    const swarmRuns: SwarmRun[] = []
    for (let rep = 1; rep <= opts.reps && opts.scenarios.includes('swarm'); rep++) {
      for (const client of clients) {
        const result = await runSwarm(client, torrentFile!, meta!.infoHash, data!, opts.bytes, opts.leechers, rep, opts.warm)
        swarmRuns.push(result)
        console.log(`rep ${rep}  ${client} 1→${opts.leechers} through opentracker: all done in ${result.allDoneSeconds.toFixed(2)} s`)
      }
    }

    let manyPeers: ManyPeersResult | undefined
    if (opts.scenarios.includes('peers')) {
      manyPeers = await runManyPeers(torrentFile!, data!, opts.peers)
      console.log(`${opts.peers} peers on one seeder: rechokes ${manyPeers.rechokeMicros.map((micros) => `${micros} µs`).join(', ')}`)
    }

    const large: LargeTorrentResult[] = []
    for (const size of opts.scenarios.includes('large') ? opts.largeSizes : []) {
      const result = await runLargeTorrent(size, opts.leechers, opts.quick ? 5 : 20)
      large.push(result)
      console.log(`${(size / 1024 ** 3).toFixed(2)} GiB torrent to ${result.peers} peers: seeder ${(result.seederRssAnonIdle / 1e6).toFixed(0)} MB idle, ${(result.seederPeakRssAnon / 1e6).toFixed(0)} MB peak, served ${(result.bytesServed / 1024 ** 2 / result.seconds).toFixed(0)} MiB/s`)
    }

    const efficacySetup = opts.quick
      ? { size: parseSize('16MiB'), uploadLimit: parseSize('4MiB'), leecherUploadLimit: parseSize('512KiB'), reps: 1 }
      : { size: parseSize('128MiB'), uploadLimit: parseSize('12MiB'), leecherUploadLimit: parseSize('1MiB'), reps: 3 }
    const market = opts.scenarios.includes('market') ? await runMarket(torrentFile!, meta!.infoHash, data!, opts.bytes, opts.reps, opts.warm, efficacySetup, lt !== null) : undefined

    // Needs libtorrent (the reference) and root (a namespace and tc for the shaped link).
    const utp = opts.scenarios.includes('utp') && lt ? await runUtp(parseSize(opts.quick ? '16MiB' : '64MiB'), parseSize(opts.quick ? '16MiB' : '128MiB')) : undefined

    const summaries = summarize(runs)
    const swarm = summarizeSwarm(swarmRuns)
    const goals = [...judgeGoals(summaries, swarm, manyPeers, large, market), creationGoal(creation), ...utpGoals(utp)]
    console.log(`\n${table(summaries, goals, swarm, manyPeers, large, market)}\n`)
    await mkdir(opts.out, { recursive: true })
    const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 1024 ** 3), kernel: release(), node: process.version, libtorrent: lt }
    await writeFile(join(opts.out, 'results.json'), JSON.stringify({ date: new Date().toISOString(), command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(), machine, options: opts, summaries, swarm, manyPeers, large, market, creation, utp, goals, runs, swarmRuns }, null, 2))
    await throughputChart(runs, join(opts.out, 'throughput.svg'))
    console.log(`wrote ${join(opts.out, 'results.json')} and ${join(opts.out, 'throughput.svg')}`)
  } finally {
    await cleanup.run()
  }
}

main().catch((err: unknown) => {
  console.error(`bench: error: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
})
