import { startLibtorrent } from '../../testkit/clients.js'
import { startDaemon, tempDir, type RunningDaemon } from '../../testkit/daemon.js'
import { stopProcess } from '../../testkit/process.js'
import { CleanupStack } from '../lib/cleanup.js'
import { downloadWith } from '../lib/leecher.js'
import { warmPageCache } from '../lib/page-cache.js'
import { MemorySampler, cpuSeconds } from '../lib/proc.js'
import type { ClientName, TransferRun } from '../lib/types.js'

export interface SeederSet {
  readonly torrentFile: string
  readonly bytes: number
  readonly bidtorrent: { readonly address: string; readonly pid: number }
  readonly libtorrent?: { readonly address: string; readonly pid: number }
}

interface LeecherResult {
  readonly seconds: number
  readonly timeline: Array<[number, number]>
  readonly pid: number
  readonly cpuSeconds: number
}

/** Runs one transfer from the named seeder to a fresh leecher of the named client (`warm`: see warmPageCache). */
export async function runTransfer (scenario: string, seeders: SeederSet, seeder: ClientName, leecher: ClientName, rep: number, warm: boolean): Promise<TransferRun> {
  const source = seeder === 'bidtorrent' ? seeders.bidtorrent : seeders.libtorrent
  if (!source) throw new Error(`no ${seeder} seeder`)
  const cleanup = new CleanupStack()
  try {
    const seederCpuBefore = await cpuSeconds(source.pid)
    const sampler = new MemorySampler([source.pid]).start()
    const result = leecher === 'bidtorrent'
      ? await bidtorrentLeecher(cleanup, seeders, source.address, sampler, warm)
      : await libtorrentLeecher(cleanup, seeders, source.address, sampler, warm)
    const seederCpu = await cpuSeconds(source.pid) - seederCpuBefore
    const peaks = sampler.stop()
    return {
      scenario,
      seeder,
      leecher,
      rep,
      bytes: seeders.bytes,
      seconds: result.seconds,
      leecherCpuSeconds: result.cpuSeconds,
      seederCpuSeconds: seederCpu,
      leecherPeakRssAnon: peaks.get(result.pid) ?? 0,
      seederPeakRssAnon: peaks.get(source.pid) ?? 0,
      timeline: result.timeline
    }
  } finally {
    await cleanup.run()
  }
}

async function bidtorrentLeecher (cleanup: CleanupStack, seeders: SeederSet, seederAddress: string, sampler: MemorySampler, warm: boolean): Promise<LeecherResult> {
  // TCP, as the libtorrent peers it is compared with use (uTP has a scenario of its own).
  const daemon: RunningDaemon = await startDaemon(cleanup, { args: ['--log-level', 'warn'], env: { BIDTORRENT_UTP: 'false' } })
  const { pid } = await daemon.api.request<{ pid: number }>('GET', '/v1/status')
  const memory = new MemorySampler([pid]).start()
  const out = await tempDir(cleanup, 'bidtorrent-bench-out-')
  if (warm) await warmPageCache(out, seeders.bytes)
  const cpuBefore = await cpuSeconds(pid)
  const timeline: Array<[number, number]> = []
  const done = await downloadWith(daemon, seeders.torrentFile, out, [seederAddress], {},
    (status) => timeline.push([(Date.now() - status.startedAt) / 1000, status.downloaded]))
  const cpu = await cpuSeconds(pid) - cpuBefore
  mergePeaks(sampler, memory)
  await daemon.stop()
  return { seconds: (done.completedAt! - done.startedAt) / 1000, timeline, pid, cpuSeconds: cpu }
}

async function libtorrentLeecher (cleanup: CleanupStack, seeders: SeederSet, seederAddress: string, sampler: MemorySampler, warm: boolean): Promise<LeecherResult> {
  const out = await tempDir(cleanup, 'bidtorrent-bench-lt-')
  if (warm) await warmPageCache(out, seeders.bytes)
  const peer = await startLibtorrent(cleanup, ['--mode', 'download', '--torrent', seeders.torrentFile, '--save', out,
    '--peer', seederAddress, '--linger', '--report-interval', '0.1', '--timeout', '1800'])
  const pid = peer.process.pid!
  const memory = new MemorySampler([pid]).start()
  const cpuBefore = await cpuSeconds(pid)
  const done = await peer.done
  const cpu = await cpuSeconds(pid) - cpuBefore
  mergePeaks(sampler, memory)
  await stopProcess(peer.process)
  const events = peer.lines.map((line) => JSON.parse(line) as { event: string; at?: number; elapsed?: number; downloaded?: number })
  const finished = events.find((event) => event.event === 'done')!
  const addedAt = finished.at! - finished.elapsed!
  const timeline = events.filter((event) => event.event === 'progress').map((event) => [event.at! - addedAt, event.downloaded!] as [number, number])
  return { seconds: done.elapsed, timeline, pid, cpuSeconds: cpu }
}

function mergePeaks (into: MemorySampler, from: MemorySampler): void {
  for (const [pid, bytes] of from.stop()) into.record(pid, bytes)
}
