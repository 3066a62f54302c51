import { writeFile } from 'node:fs/promises'
import { median } from './proc.js'
import { pairing, type TransferRun } from './types.js'
import type { SwarmRun } from '../scenarios/swarm.js'
import type { ManyPeersResult } from '../scenarios/many-peers.js'
import type { LargeTorrentResult } from '../scenarios/large-torrent.js'
import type { EfficacyResult } from '../scenarios/market.js'
import type { MarketResult } from '../scenarios/market.js'

const GiB = 1024 ** 3
const MiB = 1024 ** 2
const MB = 1000 ** 2

export interface PairingSummary {
  readonly scenario: string
  readonly pairing: string
  readonly reps: number
  readonly seconds: number
  readonly mibPerSecond: number
  readonly leecherCpuSecondsPerGiB: number
  readonly seederCpuSecondsPerGiB: number
  readonly leecherPeakRssAnonMB: number
  readonly seederPeakRssAnonMB: number
  /** Time against libtorrent → libtorrent in the same scenario and run (lower is better). */
  readonly timeRatioToLibtorrent: number | null
}

export interface Goal {
  readonly figure: string
  readonly goal: string
  readonly measured: string
  readonly met: boolean | null
}

export function summarize (runs: readonly TransferRun[]): PairingSummary[] {
  const groups = new Map<string, TransferRun[]>()
  for (const run of runs) {
    const key = `${run.scenario}\u0000${pairing(run)}`
    groups.set(key, [...(groups.get(key) ?? []), run])
  }
  const summaries = [...groups.values()].map((group) => {
    const first = group[0]!
    const gib = first.bytes / GiB
    const seconds = median(group.map((run) => run.seconds))
    return {
      scenario: first.scenario,
      pairing: pairing(first),
      reps: group.length,
      seconds,
      mibPerSecond: first.bytes / MiB / seconds,
      leecherCpuSecondsPerGiB: median(group.map((run) => run.leecherCpuSeconds)) / gib,
      seederCpuSecondsPerGiB: median(group.map((run) => run.seederCpuSeconds)) / gib,
      leecherPeakRssAnonMB: median(group.map((run) => run.leecherPeakRssAnon)) / MB,
      seederPeakRssAnonMB: median(group.map((run) => run.seederPeakRssAnon)) / MB,
      timeRatioToLibtorrent: null as number | null
    }
  })
  for (const summary of summaries) {
    const reference = summaries.find((other) => other.scenario === summary.scenario && other.pairing === 'libtorrent → libtorrent')
    summary.timeRatioToLibtorrent = reference ? summary.seconds / reference.seconds : null
  }
  return summaries
}

export interface SwarmSummary {
  readonly client: string
  readonly leechers: number
  readonly reps: number
  readonly allDoneSeconds: number
  readonly aggregateMiBPerSecond: number
  readonly timeRatioToLibtorrent: number | null
  readonly leecherCpuSecondsPerGiB: number
  readonly leecherPeakRssAnonMB: number
  readonly seederCpuSecondsPerGiB: number
  readonly seederPeakRssAnonMB: number
}

export function summarizeSwarm (runs: readonly SwarmRun[]): SwarmSummary[] {
  const clients = [...new Set(runs.map((run) => run.client))]
  const summaries = clients.map((client) => {
    const group = runs.filter((run) => run.client === client)
    const first = group[0]!
    const gib = first.bytes / GiB
    const allDone = median(group.map((run) => run.allDoneSeconds))
    return {
      client,
      leechers: first.leechers,
      reps: group.length,
      allDoneSeconds: allDone,
      aggregateMiBPerSecond: (first.bytes * first.leechers) / MiB / allDone,
      timeRatioToLibtorrent: null as number | null,
      leecherCpuSecondsPerGiB: median(group.flatMap((run) => run.leecherCpuSeconds)) / gib,
      leecherPeakRssAnonMB: median(group.flatMap((run) => run.leecherPeakRssAnon)) / MB,
      seederCpuSecondsPerGiB: median(group.map((run) => run.seederCpuSeconds)) / gib,
      seederPeakRssAnonMB: median(group.map((run) => run.seederPeakRssAnon)) / MB
    }
  })
  const reference = summaries.find((summary) => summary.client === 'libtorrent')
  for (const summary of summaries) summary.timeRatioToLibtorrent = reference ? summary.allDoneSeconds / reference.allDoneSeconds : null
  return summaries
}

/** The issue's goals, judged on what this run measured; a goal with no measurement says so. */
export function judgeGoals (summaries: readonly PairingSummary[], swarm: readonly SwarmSummary[] = [], manyPeers?: ManyPeersResult, large: readonly LargeTorrentResult[] = [], market?: MarketResult): Goal[] {
  const own = summaries.find((summary) => summary.scenario === '1→1' && summary.pairing === 'bidtorrent → bidtorrent')
  const goals: Goal[] = []
  const ratio = own?.timeRatioToLibtorrent ?? null
  const ratioText = ratio !== null ? ratio.toFixed(2) : own ? 'not measured (no libtorrent)' : 'not measured'
  goals.push({ figure: '1→1 time, bidtorrent / libtorrent', goal: '≤ 1.0', measured: ratioText, met: ratio === null ? null : ratio <= 1 })
  const cpu = own?.leecherCpuSecondsPerGiB
  goals.push({ figure: 'leecher CPU seconds per GiB', goal: '≤ 5', measured: cpu === undefined ? 'not measured' : cpu.toFixed(2), met: cpu === undefined ? null : cpu <= 5 })
  const memory = own?.leecherPeakRssAnonMB
  goals.push({ figure: 'leecher anonymous memory', goal: '≤ 100 MB', measured: memory === undefined ? 'not measured' : `${memory.toFixed(0)} MB`, met: memory === undefined ? null : memory <= 100 })
  const swarmRatio = swarm.find((summary) => summary.client === 'bidtorrent')?.timeRatioToLibtorrent ?? null
  goals.push({ figure: '1→8 all-done time, bidtorrent / libtorrent', goal: '≤ 1.0', measured: swarmRatio === null ? 'not measured' : swarmRatio.toFixed(2), met: swarmRatio === null ? null : swarmRatio <= 1 })
  const rechoke = manyPeers && manyPeers.rechokeMicros.length > 0 ? median(manyPeers.rechokeMicros) : undefined
  const smallest = large[0]
  const largest = large.at(-1)
  if (smallest && largest && largest !== smallest) {
    const growth = largest.seederPeakRssAnon / smallest.seederPeakRssAnon - 1
    const peakMB = largest.seederPeakRssAnon / MB
    goals.push({
      figure: `seeder memory, ${(largest.bytes / GiB).toFixed(1)} GiB torrent to ${largest.peers} peers`,
      goal: `≤ 150 MB, flat from ${(smallest.bytes / GiB).toFixed(1)} GiB (growth < 10%)`,
      measured: `${peakMB.toFixed(0)} MB peak, ${(growth * 100).toFixed(0)}% over ${(smallest.seederPeakRssAnon / MB).toFixed(0)} MB`,
      met: peakMB <= 150 && growth < 0.1
    })
  } else {
    goals.push({ figure: 'seeder memory as the torrent grows', goal: '≤ 150 MB, flat', measured: 'not measured', met: null })
  }
  goals.push({ figure: `one rechoke with ${manyPeers?.peers ?? 200} peers`, goal: '≤ 1 ms', measured: rechoke === undefined ? 'not measured' : `${(rechoke / 1000).toFixed(3)} ms (median)`, met: rechoke === undefined ? null : rechoke <= 1000 })
  goals.push({ figure: 'market overhead: throughput with bids and vouchers / extension off', goal: '≥ 0.95', measured: market ? market.throughputRatio.toFixed(3) : 'not measured', met: market ? market.throughputRatio >= 0.95 : null })
  goals.push({ figure: 'voucher verifications per second', goal: '≥ 5,000', measured: market ? market.verificationsPerSecond.toFixed(0) : 'not measured', met: market ? market.verificationsPerSecond >= 5000 : null })
  const errors = market?.paymentErrors ?? []
  goals.push({ figure: 'payment error (paid − verified bytes × rate)', goal: 'exactly 0', measured: market ? `${errors.join(', ')} base units` : 'not measured', met: market ? errors.every((error) => error === '0') : null })
  goals.push(...efficacyGoals(market?.efficacy))
  return goals
}

/** (c) The market works in a swarm that trades: a bid buys speed, free peers keep their share and finish, the swarm is no slower, payments are exact. */
function efficacyGoals (efficacy: EfficacyResult | undefined): Goal[] {
  if (!efficacy || efficacy.runs.length === 0) return [{ figure: 'market efficacy in a swarm that trades', goal: 'speed-up, free share, all-done, exact books', measured: 'not measured', met: null }]
  const markets = efficacy.runs.map((run) => run.market)
  const speedups = markets.map((run) => run.speedup ?? 0)
  const shares = markets.map((run) => run.freeClassShareWhileContended)
  const ratio = median(markets.map((run) => run.allDoneSeconds)) / median(efficacy.runs.map((run) => run.baseline.allDoneSeconds))
  const freeFinished = markets.every((run) => run.peers.filter((peer) => peer.kind !== 'bidder').every((peer) => peer.completedAfter !== null))
  const channels = markets.flatMap((run) => run.channels)
  const paymentErrors = [...new Set(channels.map((channel) => channel.paymentError))]
  const gaps = [...new Set(channels.map((channel) => channel.booksGap))]
  const reps = `median of ${markets.length}`
  const times = markets.map((run) => run.peers.map((peer) => `${peer.name} ${peer.completedAfter?.toFixed(1) ?? '-'}`).join(' ')).join('; ')
  return [
    { figure: 'efficacy: top bidder\'s speed-up over the median free peer', goal: '≥ 2', measured: `${median(speedups).toFixed(2)} (${reps}: ${speedups.map((value) => value.toFixed(2)).join(', ')}; s: ${times})`, met: median(speedups) >= 2 },
    { figure: 'efficacy: every free peer finishes (bidtorrent and libtorrent)', goal: 'all', measured: freeFinished ? 'all' : 'not all', met: freeFinished },
    { figure: 'efficacy: free class share of the capped seeder\'s upload while all download', goal: '≥ 25%', measured: `${(median(shares) * 100).toFixed(1)}% (${reps}: ${shares.map((share) => `${(share * 100).toFixed(1)}%`).join(', ')})`, met: median(shares) >= 0.25 },
    { figure: 'efficacy: all-done time, market on / market off', goal: '≤ 1.05', measured: `${ratio.toFixed(3)} (${median(markets.map((run) => run.allDoneSeconds)).toFixed(1)} s / ${median(efficacy.runs.map((run) => run.baseline.allDoneSeconds)).toFixed(1)} s)`, met: ratio <= 1.05 },
    { figure: 'efficacy: payment error per channel (paid − verified bytes bought × rate)', goal: 'exactly 0', measured: `${paymentErrors.join(', ')} base units over ${channels.length} channels`, met: paymentErrors.every((error) => error === '0') },
    { figure: 'efficacy: spending − earnings per channel', goal: 'exactly 0', measured: `${gaps.join(', ')} base units over ${channels.length} channels`, met: gaps.every((gap) => gap === '0') }
  ]
}

function render (header: readonly string[], rows: ReadonlyArray<readonly string[]>, leftColumns: number): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: readonly string[]): string => cells.map((cell, column) => (column < leftColumns ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)]
}

export function table (summaries: readonly PairingSummary[], goals: readonly Goal[], swarm: readonly SwarmSummary[] = [], manyPeers?: ManyPeersResult, large: readonly LargeTorrentResult[] = [], market?: MarketResult): string {
  const header = ['scenario', 'pairing', 'reps', 'time s', 'MiB/s', 'vs lt', 'leech CPU-s/GiB', 'seed CPU-s/GiB', 'leech RssAnon MB', 'seed RssAnon MB']
  const rows = summaries.map((s) => [
    s.scenario, s.pairing, String(s.reps), s.seconds.toFixed(2), s.mibPerSecond.toFixed(0),
    s.timeRatioToLibtorrent === null ? '-' : s.timeRatioToLibtorrent.toFixed(2),
    s.leecherCpuSecondsPerGiB.toFixed(2), s.seederCpuSecondsPerGiB.toFixed(2),
    s.leecherPeakRssAnonMB.toFixed(0), s.seederPeakRssAnonMB.toFixed(0)
  ])
  const sections = rows.length > 0 ? render(header, rows, 2) : []
  if (swarm.length > 0) {
    sections.push('', ...render(
      ['1→N swarm', 'leechers', 'reps', 'all-done s', 'aggregate MiB/s', 'vs lt', 'leech CPU-s/GiB', 'leech RssAnon MB', 'seed CPU-s/GiB', 'seed RssAnon MB'],
      swarm.map((s) => [s.client, String(s.leechers), String(s.reps), s.allDoneSeconds.toFixed(2), s.aggregateMiBPerSecond.toFixed(0),
        s.timeRatioToLibtorrent === null ? '-' : s.timeRatioToLibtorrent.toFixed(2), s.leecherCpuSecondsPerGiB.toFixed(2),
        s.leecherPeakRssAnonMB.toFixed(0), s.seederCpuSecondsPerGiB.toFixed(2), s.seederPeakRssAnonMB.toFixed(0)]), 1))
  }
  if (manyPeers) {
    const micros = manyPeers.rechokeMicros
    sections.push('', `seeder with ${manyPeers.peers} peers: rechoke ${micros.length ? `${(median(micros) / 1000).toFixed(3)} ms median, ${(Math.max(...micros) / 1000).toFixed(3)} ms max` : 'not sampled'}; ` +
      `${(manyPeers.bytesPerConnection / 1024).toFixed(0)} KiB of anonymous memory per connection (${(manyPeers.seederRssAnonBefore / MB).toFixed(0)} → ${(manyPeers.seederRssAnonAfter / MB).toFixed(0)} MB)`)
  }
  if (large.length > 0) {
    sections.push('', ...render(
      ['large torrent', 'peers', 'seconds', 'served MiB/s', 'seed RssAnon idle MB', 'seed RssAnon peak MB'],
      large.map((r) => [`${(r.bytes / GiB).toFixed(2)} GiB`, String(r.peers), String(r.seconds), (r.bytesServed / MiB / r.seconds).toFixed(0),
        (r.seederRssAnonIdle / MB).toFixed(0), (r.seederPeakRssAnon / MB).toFixed(0)]), 1))
  }
  if (market) {
    sections.push('', `market: with bids ${median(market.secondsWithBids).toFixed(2)} s, extension off ${median(market.secondsWithoutExtension).toFixed(2)} s (median of ${market.secondsWithBids.length}), ` +
      `~${market.vouchersPerRun} vouchers a run; ${market.verificationsPerSecond.toFixed(0)} verifications/s (tronweb's own verify ${market.tronwebVerificationsPerSecond.toFixed(0)}/s), ${market.signaturesPerSecond.toFixed(0)} signatures/s`)
  }
  const goalLines = goals.map((goal) => `  ${goal.met === null ? '?' : goal.met ? 'met' : 'NOT MET'}  ${goal.figure}: ${goal.measured} (goal ${goal.goal})`)
  return [...sections, '', 'goals:', ...goalLines].join('\n')
}

/** Throughput over time, one line per pairing (from each pairing's median run), as an SVG made with vega-lite. */
export async function throughputChart (runs: readonly TransferRun[], path: string): Promise<void> {
  const vegaLite = await import('vega-lite')
  const vega = await import('vega')
  const values: Array<{ pairing: string; seconds: number; mibPerSecond: number }> = []
  const byPairing = new Map<string, TransferRun[]>()
  for (const run of runs.filter((r) => r.scenario === '1→1')) byPairing.set(pairing(run), [...(byPairing.get(pairing(run)) ?? []), run])
  for (const [name, group] of byPairing) {
    const typical = [...group].sort((a, b) => a.seconds - b.seconds)[group.length >> 1]!
    let previous: readonly [number, number] = [0, 0]
    for (const sample of typical.timeline) {
      const dt = sample[0] - previous[0]
      if (dt >= 0.2) {
        values.push({ pairing: name, seconds: Number(sample[0].toFixed(2)), mibPerSecond: Number(((sample[1] - previous[1]) / MiB / dt).toFixed(1)) })
        previous = sample
      }
    }
  }
  const spec = vegaLite.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Throughput over time, one seeder to one leecher on 127.0.0.1',
    width: 640,
    height: 320,
    data: { values },
    mark: { type: 'line', interpolate: 'monotone' },
    encoding: {
      x: { field: 'seconds', type: 'quantitative', title: 'seconds since the torrent was added' },
      y: { field: 'mibPerSecond', type: 'quantitative', title: 'MiB/s' },
      color: { field: 'pairing', type: 'nominal', title: 'seeder → leecher', legend: { labelLimit: 400 } }
    }
  }).spec
  const view = new vega.View(vega.parse(spec), { renderer: 'none' })
  await writeFile(path, await view.toSVG())
}
