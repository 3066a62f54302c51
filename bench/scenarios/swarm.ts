import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bencode from 'bencode'
import type { TorrentView } from '../../src/api/types.js'
import { startLibtorrent, startOpentracker, waitForTrackerSeeder } from '../../testkit/clients.js'
import { startDaemon } from '../../testkit/daemon.js'
import { waitFor } from '../../testkit/process.js'
import { CleanupStack } from '../lib/cleanup.js'
import { warmPageCache } from '../lib/page-cache.js'
import { MemorySampler, cpuSeconds } from '../lib/proc.js'
import type { ClientName } from '../lib/types.js'

export interface SwarmRun {
  readonly client: ClientName
  readonly rep: number
  readonly bytes: number
  readonly leechers: number
  /** From the first leecher's add to the last leecher's last verified piece. */
  readonly allDoneSeconds: number
  readonly leecherCpuSeconds: readonly number[]
  readonly leecherPeakRssAnon: readonly number[]
  readonly seederCpuSeconds: number
  readonly seederPeakRssAnon: number
}

/** The same torrent announcing to `announce` (the info dictionary, and so the info hash, is untouched). */
async function withTracker (torrentFile: string, announce: string, dir: string): Promise<string> {
  const torrent = bencode.decode(await readFile(torrentFile)) as Record<string, unknown>
  torrent.announce = announce
  torrent['announce-list'] = [[announce]]
  const path = join(dir, 'tracked.torrent')
  await writeFile(path, bencode.encode(torrent))
  return path
}

/** One seeder and `leechers` leechers of one client, finding each other through a fresh opentracker. */
export async function runSwarm (client: ClientName, torrentFile: string, infoHash: string, dataDir: string, bytes: number, leechers: number, rep: number, warm: boolean): Promise<SwarmRun> {
  const cleanup = new CleanupStack()
  try {
    const work = await mkdtemp(join(tmpdir(), 'bidtorrent-bench-swarm-'))
    cleanup.teardown(() => rm(work, { recursive: true, force: true }))
    const tracker = await startOpentracker(cleanup, work, [infoHash])
    const tracked = await withTracker(torrentFile, tracker.http, work)
    const body = async (directory: string): Promise<Record<string, unknown>> => ({ torrent: (await readFile(tracked)).toString('base64'), directory })

    let seederPid: number
    if (client === 'bidtorrent') {
      // TCP, as libtorrent's swarm here (uTP has a scenario of its own).
      const seeder = await startDaemon(cleanup, { args: ['--log-level', 'warn'], env: { BIDTORRENT_UTP: 'false' } })
      await seeder.api.request('POST', '/v1/torrents', await body(dataDir))
      await waitFor('the seeder to check its data', async () => ((await seeder.torrent(infoHash)).state === 'seeding' ? true : undefined), 600_000)
      seederPid = (await seeder.api.request<{ pid: number }>('GET', '/v1/status')).pid
    } else {
      const seeder = await startLibtorrent(cleanup, ['--mode', 'seed', '--torrent', tracked, '--save', dataDir, '--timeout', '86400'])
      await waitFor('the libtorrent seeder to check its data', () => (seeder.lines.some((line) => line.includes('"seeding": true')) ? true : undefined), 600_000)
      seederPid = seeder.process.pid!
    }
    await waitForTrackerSeeder(tracker, infoHash)

    const seederCpuBefore = await cpuSeconds(seederPid)
    const seederMemory = new MemorySampler([seederPid]).start()
    const outs = await Promise.all(Array.from({ length: leechers }, () => mkdtemp(join(work, 'out-'))))
    let result: Pick<SwarmRun, 'allDoneSeconds' | 'leecherCpuSeconds' | 'leecherPeakRssAnon'>
    if (client === 'bidtorrent') {
      const daemons = await Promise.all(outs.map(() => startDaemon(cleanup, { args: ['--log-level', 'warn'], env: { BIDTORRENT_UTP: 'false' } })))
      const pids = await Promise.all(daemons.map(async (daemon) => (await daemon.api.request<{ pid: number }>('GET', '/v1/status')).pid))
      const memory = new MemorySampler(pids).start()
      if (warm) await warmPageCache(work, bytes * leechers)
      const cpuBefore = await Promise.all(pids.map(cpuSeconds))
      await Promise.all(daemons.map(async (daemon, i) => daemon.api.request('POST', '/v1/torrents', await body(outs[i]!))))
      const finished = await Promise.all(daemons.map((daemon) => waitFor('a leecher to finish', async () => {
        const status = await daemon.torrent(infoHash)
        return status.completedAt !== null ? status : undefined
      }, 60 * 60_000, 250) as Promise<TorrentView>))
      const cpu = await Promise.all(pids.map(cpuSeconds))
      const peaks = memory.stop()
      result = {
        allDoneSeconds: (Math.max(...finished.map((s) => s.completedAt!)) - Math.min(...finished.map((s) => s.startedAt))) / 1000,
        leecherCpuSeconds: cpu.map((value, i) => value - cpuBefore[i]!),
        leecherPeakRssAnon: pids.map((pid) => peaks.get(pid) ?? 0)
      }
    } else {
      if (warm) await warmPageCache(work, bytes * leechers)
      const peers = await Promise.all(outs.map((out) => startLibtorrent(cleanup, ['--mode', 'download', '--torrent', tracked, '--save', out, '--linger', '--timeout', '3600'])))
      const pids = peers.map((peer) => peer.process.pid!)
      const memory = new MemorySampler(pids).start()
      const cpuBefore = await Promise.all(pids.map(cpuSeconds))
      const done = await Promise.all(peers.map((peer) => peer.done))
      const cpu = await Promise.all(pids.map(cpuSeconds))
      const peaks = memory.stop()
      const finishedAt = peers.map((peer) => {
        const event = peer.lines.map((line) => JSON.parse(line) as { event: string; at?: number }).find((e) => e.event === 'done')!
        return event.at!
      })
      const addedAt = finishedAt.map((at, i) => at - done[i]!.elapsed)
      result = {
        allDoneSeconds: Math.max(...finishedAt) - Math.min(...addedAt),
        leecherCpuSeconds: cpu.map((value, i) => value - cpuBefore[i]!),
        leecherPeakRssAnon: pids.map((pid) => peaks.get(pid) ?? 0)
      }
    }
    const seederCpu = await cpuSeconds(seederPid) - seederCpuBefore
    return { client, rep, bytes, leechers, ...result, seederCpuSeconds: seederCpu, seederPeakRssAnon: seederMemory.stop().get(seederPid) ?? 0 }
  } finally {
    await cleanup.run()
  }
}
