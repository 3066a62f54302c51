import { mkdir } from 'node:fs/promises'
import { evmAddressOf } from '../money/address.js'
import { readableBtt, readablePrice } from '../money/price.js'
import type { DevnetInfo } from './devnet.js'
import { formatRate } from '../util/units.js'
import { DemoChain, type ChainReport } from './demo-chain.js'
import { runSwarm, topBidderSpeedup, type ExternalPeerStarter, type SwarmPeerRow, type SwarmResult, type TrackerStarter } from './swarm.js'
import { startBuiltinTracker } from './tracker.js'

export interface DemoOptions {
  /** Size of the file the seeder serves, bytes. */
  readonly size: number
  /** The seeder's upload cap, bytes per second. */
  readonly uploadLimit: number
  /** Each downloader's upload cap (a home uplink), bytes per second. */
  readonly leecherUploadLimit: number
  /** The seeder's floor, base units per MiB. */
  readonly floor: bigint
  /** Each downloader's bid as a multiple of the floor (0 = no bid, no wallet: a plain BitTorrent peer). */
  readonly bids: readonly number[]
  /** Market off: the same swarm, nobody sells or bids (the baseline a market is measured against). */
  readonly marketOff?: boolean
  /** Peer exchange among the downloaders (default on). */
  readonly pex?: boolean
  /** Other clients' free peers (the benchmark adds a libtorrent peer). */
  readonly externalPeers?: readonly ExternalPeerStarter[]
  /** The tracker (default: one in this process, on 127.0.0.1). */
  readonly tracker?: TrackerStarter
  /** Keep the swarm's files here (default: a temporary folder, removed at the end). */
  readonly directory?: string
  readonly timeoutSeconds: number
  /** Settle on a running devnet (`bidtorrent devnet`) instead of the embedded backend. */
  readonly chain?: DevnetInfo
  readonly onStatus?: (line: string) => void
  /** Called about once a second with the swarm's state. */
  readonly onProgress?: (rows: readonly SwarmPeerRow[], elapsedSeconds: number) => void
}

export interface DemoSummary extends SwarmResult {
  /** The top bidder's speed-up over the median free peer (completion times). */
  readonly speedup: number | null
  /** Paid − owed for verified bytes, per bidder, base units (the goal is zero for each). */
  readonly paymentErrors: Readonly<Record<string, string>>
  /** With a devnet: balances on chain and each channel's deposit and claim, after the seeder settled. */
  readonly chain?: ChainReport
}

/** Budgets: what the whole file costs at the bid, and half again (the demo's bidders never run short). */
function budgetFor (bid: bigint, size: number): bigint {
  return bid * BigInt(Math.ceil(size / 1024 / 1024) + 1) * 3n / 2n
}

/**
 * The bandwidth market on 127.0.0.1 in one call, in a swarm that behaves like one: a capped
 * seeder behind a tracker, downloaders whose uploads are capped well below it, PEX on, some
 * bidding multiples of the floor and some not, each a real daemon in its own process.
 */
export async function runDemo (options: DemoOptions): Promise<DemoSummary> {
  const chain = options.chain ? new DemoChain(options.chain) : undefined
  const multipleOf = (multiple: number): bigint => options.floor * BigInt(Math.round(multiple * 1000)) / 1000n
  const leechers = options.bids.map((multiple, index) => {
    const bid = options.marketOff ? 0n : multipleOf(multiple)
    return { name: multiple === 0 || bid === 0n ? `free-${index + 1}` : `bid-${multiple}x`, bid, budget: budgetFor(bid, options.size) }
  })
  if (options.directory) await mkdir(options.directory, { recursive: true })
  let chainReport: ChainReport | undefined
  let parties: ReadonlyArray<{ name: string, wallet: string }> = []
  try {
    const highest = leechers.reduce((best, peer) => (peer.bid > best ? peer.bid : best), 0n)
    const result = await runSwarm({
      size: options.size,
      seederUploadLimit: options.uploadLimit,
      leecherUploadLimit: options.leecherUploadLimit,
      floor: options.marketOff ? 0n : options.floor,
      leechers,
      tracker: options.tracker ?? startBuiltinTracker,
      timeoutSeconds: options.timeoutSeconds,
      ...(options.pex !== undefined ? { pex: options.pex } : {}),
      ...(options.externalPeers ? { externalPeers: options.externalPeers } : {}),
      ...(options.directory ? { directory: options.directory } : {}),
      ...(options.onStatus ? { onStatus: options.onStatus } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(chain
        ? {
            marketEnv: chain.env(budgetFor(highest, options.size)),
            beforeStart: async (wallets) => {
              parties = wallets
              await chain.fund(wallets.map((entry) => entry.wallet), budgetFor(highest, options.size))
            },
            afterDone: async (seeder, infoHash) => {
              // Claim everything now, whatever its size, then read the chain.
              await seeder.api.request('POST', '/v1/settle')
              chainReport = await chain.report(parties, parties.find((party) => party.name === 'seeder')?.wallet ?? '', infoHash)
            }
          }
        : {})
    })
    if (chain && !chainReport) throw new Error('the chain was not read')
    const paymentErrors = Object.fromEntries(result.channels.map((channel) => [channel.payer, channel.paymentError]))
    return { ...result, speedup: topBidderSpeedup(result), paymentErrors, ...(chainReport ? { chain: chainReport } : {}) }
  } finally {
    chain?.close()
  }
}

const MiB = 1024 * 1024

/** The live table: one line per downloader. */
export function renderRows (rows: readonly SwarmPeerRow[], elapsedSeconds: number): string {
  const lines = [`${elapsedSeconds.toFixed(0).padStart(4)} s  peer        bid             progress                speed        paid`]
  for (const row of rows) {
    const bar = '#'.repeat(Math.round(row.progress * 20)).padEnd(20, '.')
    const speed = row.completedAfter !== null ? `done ${row.completedAfter.toFixed(1)} s` : formatRate(row.downloadRate)
    const bid = row.kind === 'external' ? 'none (other client)' : row.bid === '0' ? 'none' : readablePrice(BigInt(row.bid))
    lines.push(`        ${row.name.padEnd(11)} ${bid.padEnd(15)} [${bar}] ${speed.padEnd(12)} ${row.kind === 'bidder' ? readableBtt(BigInt(row.paid)) : '-'}`)
  }
  return lines.join('\n')
}

/** The closing summary: time per peer, the speed-up, the free class's share, and both sides' books. */
export function renderSummary (summary: DemoSummary): string {
  const lines = ['', 'Summary',
    `  seeder: ${(summary.size / MiB).toFixed(0)} MiB at ${formatRate(summary.seederUploadLimit)}, downloaders' uploads at ${formatRate(summary.leecherUploadLimit)}, floor ${readablePrice(BigInt(summary.floor))}, earned ${readableBtt(BigInt(summary.seederEarned))}`,
    `  all done after ${summary.allDoneSeconds.toFixed(1)} s; the top bidder ${summary.speedup === null ? '-' : `${summary.speedup.toFixed(2)}x`} as fast as the median free peer`,
    `  free class (peers outside paid slots) while all downloaded: ${(summary.freeClassShareWhileContended * 100).toFixed(1)}% of the seeder's upload`,
    '  peer        bid             finished   share while all downloaded   paid']
  for (const row of summary.peers) {
    const share = summary.sharesWhileContended[row.name]
    const bid = row.kind === 'bidder' ? readablePrice(BigInt(row.bid)) : 'none'
    lines.push(`  ${row.name.padEnd(11)} ${bid.padEnd(15)} ${(row.completedAfter?.toFixed(1) ?? '-').padStart(6)} s   ${share === undefined ? '-'.padStart(6) : `${(share * 100).toFixed(1).padStart(5)}%`}                       ${row.kind === 'bidder' ? readableBtt(BigInt(row.paid)) : 'nothing (free)'}`)
  }
  if (summary.channels.length > 0) {
    lines.push('', '  channel              paid (buyer)         earned (seller)      paid - owed for verified   paid - earned')
    for (const channel of summary.channels) {
      const exact = (value: string): string => (value === '0' ? '0 (exact)' : value)
      lines.push(`  ${`${channel.payer} -> ${channel.payee}`.padEnd(20)} ${readableBtt(BigInt(channel.paid)).padEnd(20)} ${readableBtt(BigInt(channel.earned)).padEnd(20)} ${exact(channel.paymentError).padEnd(26)} ${exact(channel.booksGap)}`)
    }
  }
  if (summary.chain) {
    lines.push('', `On chain ${summary.chain.chainId}, channel contract ${summary.chain.contract}:`)
    for (const party of summary.chain.parties) {
      const change = BigInt(party.after) - BigInt(party.before)
      lines.push(`  ${party.name.padEnd(11)} ${party.address}  balance ${readableBtt(BigInt(party.after))} (${change >= 0n ? '+' : '-'}${readableBtt(change >= 0n ? change : -change)}, gas included)`)
    }
    for (const channel of summary.chain.channels) {
      const name = summary.chain.parties.find((party) => party.address === evmAddressOf(channel.payer))?.name
      const books = summary.channels.find((entry) => entry.payer === name)
      const exact = books && books.paid === channel.claimed ? 'claimed = paid, exactly' : `paid ${books?.paid ?? '?'}`
      lines.push(`  channel from ${channel.payer}: deposit ${readableBtt(BigInt(channel.deposited))}, claimed ${readableBtt(BigInt(channel.claimed))} (${exact})`)
    }
  }
  return lines.join('\n')
}
