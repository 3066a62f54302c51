import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { TorrentView } from '../../src/api/types.js'
import { defaultPieceLength } from '../../src/engine/creation-format.js'
import { libtorrentInfoHash, mktorrentInfoHash } from '../../testkit/creators.js'
import { startDaemon } from '../../testkit/daemon.js'
import { run } from '../../testkit/process.js'
import { CleanupStack } from '../lib/cleanup.js'
import { cpuSeconds, median } from '../lib/proc.js'
import type { Goal } from '../lib/report.js'

const MiB = 1024 * 1024
/** The goal: bidtorrent makes the torrent in at most this many times mktorrent's time. */
const GOAL_RATIO = 1.5

export type CreationTool = 'bidtorrent' | 'mktorrent' | 'libtorrent'

export interface CreationRun {
  readonly tool: CreationTool
  readonly rep: number
  readonly seconds: number
  readonly infoHash: string
  /** The bidtorrent daemon's CPU over the run (the other tools: not measured). */
  readonly cpuSeconds: number | null
}

export interface CreationResult {
  readonly bytes: number
  readonly files: number
  readonly pieceLength: number
  readonly runs: readonly CreationRun[]
  /** Median seconds by tool. */
  readonly seconds: Partial<Record<CreationTool, number>>
  /** bidtorrent's median over mktorrent's: the goal's figure. */
  readonly ratioToMktorrent: number
  /** Whether every tool gave the same info hash in every run. */
  readonly sameInfoHash: boolean
}

/** Deterministic sizes, spread log-uniformly from 4 KiB to 64 MiB (a studio's textures, sounds and packs), scaled to `bytes` in all. */
export function studioSizes (bytes: number, files: number): number[] {
  let seed = 0x5eed
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  const raw = Array.from({ length: files }, () => 2 ** (12 + random() * 14))
  const scale = bytes / raw.reduce((sum, size) => sum + size, 0)
  const sizes = raw.map((size) => Math.max(1, Math.floor(size * scale)))
  sizes[0]! += bytes - sizes.reduce((sum, size) => sum + size, 0)
  return sizes
}

/** Plain names (letters, digits, `_`) in folders of 50: every tool orders them alike, so the info hashes can be compared. */
async function writeStudio (root: string, sizes: readonly number[]): Promise<void> {
  const kinds = ['audio', 'levels', 'meshes', 'textures']
  const block = randomBytes(MiB)
  let stamp = 0
  for (const [index, size] of sizes.entries()) {
    const path = join(root, kinds[index % kinds.length]!, `group_${String(Math.floor(index / 50)).padStart(3, '0')}`, `asset_${String(index).padStart(5, '0')}.bin`)
    await mkdir(dirname(path), { recursive: true })
    const file = await open(path, 'w')
    try {
      // A random block stamped with a counter: every piece hashes differently, yet it writes at disk speed.
      for (let offset = 0; offset < size; offset += MiB) {
        block.writeUInt32BE(stamp++, 0)
        await file.write(block, 0, Math.min(MiB, size - offset), offset)
      }
    } finally {
      await file.close()
    }
  }
}

/** Reads every file once, so that every tool hashes from the page cache (warm against warm). */
async function warm (root: string): Promise<void> {
  const result = await run('sh', ['-c', 'find "$1" -type f -exec cat {} + > /dev/null', 'warm', root])
  if (result.code !== 0) throw new Error(`warming the page cache failed: ${result.stderr}`)
}

async function timed (work: () => Promise<string>): Promise<{ seconds: number, infoHash: string }> {
  const started = process.hrtime.bigint()
  const infoHash = await work()
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, infoHash }
}

/**
 * The issue's studio folder (4 GiB in 2,000 files; tiny with --quick), made into a torrent by
 * bidtorrent (`seed` through a running daemon's API, as the CLI asks for it, the torrent removed
 * again after each run), by mktorrent, and by libtorrent's create_torrent when it is installed, in
 * turn within each repetition, all from a warm page cache, at the same piece length.
 */
export async function runCreation (bytes: number, files: number, reps: number, libtorrent: boolean): Promise<CreationResult> {
  const cleanup = new CleanupStack()
  try {
    const work = await mkdtemp(join(tmpdir(), 'bidtorrent-bench-create-'))
    cleanup.teardown(() => rm(work, { recursive: true, force: true }))
    const root = join(work, 'studio')
    const sizes = studioSizes(bytes, files)
    await writeStudio(root, sizes)
    const pieceLength = defaultPieceLength(bytes)
    const daemon = await startDaemon(cleanup, { args: ['--log-level', 'warn'] })
    const pid = (await daemon.api.status()).pid
    const tools: Record<CreationTool, () => Promise<string>> = {
      bidtorrent: async () => {
        const torrent = await daemon.api.request<TorrentView>('POST', '/v1/seed', { path: root, pieceLength })
        await daemon.api.remove(torrent.infoHash, false)
        return torrent.infoHash
      },
      mktorrent: () => mktorrentInfoHash(work, root, pieceLength),
      libtorrent: () => libtorrentInfoHash(root, pieceLength)
    }
    const order: CreationTool[] = libtorrent ? ['bidtorrent', 'mktorrent', 'libtorrent'] : ['bidtorrent', 'mktorrent']
    await warm(root)
    const runs: CreationRun[] = []
    for (let rep = 1; rep <= reps; rep++) {
      // Each repetition starts with the next tool, so drift in the machine's load hits all alike.
      for (let turn = 0; turn < order.length; turn++) {
        const tool = order[(rep - 1 + turn) % order.length]!
        const cpuBefore = tool === 'bidtorrent' ? await cpuSeconds(pid) : 0
        const { seconds, infoHash } = await timed(tools[tool])
        const cpu = tool === 'bidtorrent' ? await cpuSeconds(pid) - cpuBefore : null
        runs.push({ tool, rep, seconds, infoHash, cpuSeconds: cpu })
        console.log(`rep ${rep}  create ${(bytes / MiB).toFixed(0)} MiB in ${files} files with ${tool}: ${seconds.toFixed(2)} s${cpu === null ? '' : `, ${cpu.toFixed(2)} CPU-s`}, info hash ${infoHash}`)
      }
    }
    const seconds: Partial<Record<CreationTool, number>> = {}
    for (const tool of order) seconds[tool] = median(runs.filter((r) => r.tool === tool).map((r) => r.seconds))
    return {
      bytes,
      files,
      pieceLength,
      runs,
      seconds,
      ratioToMktorrent: seconds.bidtorrent! / seconds.mktorrent!,
      sameInfoHash: new Set(runs.map((r) => r.infoHash)).size === 1
    }
  } finally {
    await cleanup.run()
  }
}

export function creationGoal (result: CreationResult | undefined): Goal {
  const figure = 'torrent creation of the studio folder, bidtorrent / mktorrent'
  if (!result) return { figure, goal: `≤ ${GOAL_RATIO}`, measured: 'not measured', met: null }
  const { seconds } = result
  const others = `${seconds.bidtorrent!.toFixed(2)} s / ${seconds.mktorrent!.toFixed(2)} s${seconds.libtorrent !== undefined ? `; libtorrent ${seconds.libtorrent.toFixed(2)} s` : ''}`
  return {
    figure: `${figure} (${(result.bytes / MiB).toFixed(0)} MiB, ${result.files} files)`,
    goal: `≤ ${GOAL_RATIO}, same info hash`,
    measured: `${result.ratioToMktorrent.toFixed(2)} (${others}; ${result.sameInfoHash ? 'same info hash' : 'INFO HASHES DIFFER'})`,
    met: result.ratioToMktorrent <= GOAL_RATIO && result.sameInfoHash
  }
}
