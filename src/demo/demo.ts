import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TorrentView, VoucherTotals } from '../daemon/service.js'
import type { PeerInfo } from '../engine/torrent.js'
import { evmAddressOf } from '../market/address.js'
import { formatBtt } from '../market/price.js'
import type { TradeTotals } from '../market/torrent-market.js'
import { createWallet } from '../wallet/keystore.js'
import type { DevnetInfo } from '../settlement/evm/devnet.js'
import { DemoChain, type ChainReport } from './demo-chain.js'
import { startChildDaemon, type ChildDaemon } from './processes.js'

export interface DemoOptions {
  /** Size of the file the seeder serves, bytes. */
  readonly size: number
  /** The seeder's upload cap, bytes per second. */
  readonly uploadLimit: number
  /** The seeder's floor, base units per MiB. */
  readonly floor: bigint
  /** Each downloader's bid as a multiple of the floor (0 = no bid, no wallet: a plain BitTorrent peer). */
  readonly bids: readonly number[]
  /** Keep the swarm's files here (default: a temporary folder, removed at the end). */
  readonly directory?: string
  readonly timeoutSeconds: number
  /** Settle on a running devnet (`bidtorrent devnet`) instead of the embedded backend. */
  readonly chain?: DevnetInfo
  /** Called about once a second with the swarm's state. */
  readonly onProgress?: (rows: readonly DemoPeerRow[], elapsedSeconds: number) => void
}

export interface DemoPeerRow {
  readonly name: string
  /** Base units per MiB; '0' for the free peer. */
  readonly bid: string
  readonly progress: number
  readonly downloaded: number
  readonly downloadRate: number
  /** Seconds from the start of the download to its last verified piece. */
  readonly completedAfter: number | null
  /** What its vouchers add up to (from its stored vouchers). */
  readonly paid: string
  /** What it owes the seeder for the bytes it verified, from its own meter (verified bytes × rate). */
  readonly owedForVerified: string
  /** What the seeder charged it (bytes sent × quoted rate) and earned from it (stored vouchers). */
  readonly chargedBySeeder: string
  readonly earnedBySeeder: string
}

export interface DemoSummary {
  readonly size: number
  readonly uploadLimit: number
  readonly floor: string
  readonly peers: readonly DemoPeerRow[]
  /** Each peer's share of all bytes delivered while every peer was still downloading. */
  readonly sharesWhileContended: Readonly<Record<string, number>>
  /**
   * The seeder's upload to peers outside paid slots (regular and optimistic: the free class) over
   * its whole upload, from its first auction until the first peer finished; the reserved share is
   * the goal.
   */
  readonly freeClassShareWhileContended: number
  /** Paid − owed for verified bytes, per bidder, base units (the goal is zero for each). */
  readonly paymentErrors: Readonly<Record<string, string>>
  readonly seederEarned: string
  /** With a devnet: balances on chain and each channel's deposit and claim, after the seeder settled. */
  readonly chain?: ChainReport
}

interface Downloader {
  readonly name: string
  readonly bid: bigint
  readonly daemon: ChildDaemon
  readonly wallet: string | null
  completedAfter: number | null
}

const PASSPHRASE_BYTES = 18

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

function totalFrom (totals: VoucherTotals, wallet: string | null): bigint {
  let sum = 0n
  for (const torrent of totals.torrents) for (const peer of torrent.peers) if (peer.wallet === wallet) sum += BigInt(peer.amount)
  return sum
}

function tradeWith (view: TorrentView | undefined, wallet: string | null): TradeTotals | undefined {
  return view?.market?.trades.find((trade) => trade.wallet === wallet)
}

/**
 * The bandwidth market on 127.0.0.1 in one call: a seeder with a capped upload rate and downloaders
 * bidding different multiples of its floor (one bids nothing), each a real daemon in its own
 * process, on the embedded settlement backend. Downloaders connect to the seeder only (no peer
 * exchange), so what each receives is what the seeder's market gave it.
 */
export async function runDemo (options: DemoOptions): Promise<DemoSummary> {
  const root = options.directory ?? await mkdtemp(join(tmpdir(), 'bidtorrent-demo-'))
  const daemons: ChildDaemon[] = []
  const passphrase = randomBytes(PASSPHRASE_BYTES).toString('base64')
  const chain = options.chain ? new DemoChain(options.chain) : undefined
  try {
    await mkdir(join(root, 'content'), { recursive: true })
    const file = join(root, 'content', 'patch.bin')
    await writeRandomFile(file, options.size)

    const walletIn = async (dataDir: string): Promise<string> => {
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      return (await createWallet(dataDir, passphrase)).tron
    }
    const highestBid = options.floor * BigInt(Math.round(Math.max(...options.bids) * 1000)) / 1000n
    const budgetFor = (bid: bigint): bigint => bid * BigInt(Math.ceil(options.size / 1024 / 1024) + 1)
    const marketEnv = { BIDTORRENT_PASSPHRASE: passphrase, BIDTORRENT_LOG_LEVEL: 'warn', ...chain?.env(budgetFor(highestBid)) }
    const seederDir = join(root, 'seeder')
    const seederWallet = await walletIn(seederDir)
    // Two regular slots and one optimistic: one regular slot is kept for free peers and one is
    // auctioned, so the bidders compete for it.
    const seeder = await startChildDaemon(seederDir, { ...marketEnv, BIDTORRENT_UPLOAD_SLOTS: '2', BIDTORRENT_OPTIMISTIC_SLOTS: '1' })
    daemons.push(seeder)
    const seeded = await seeder.api.request<TorrentView>('POST', '/v1/seed', { path: file, uploadLimit: options.uploadLimit, floor: options.floor.toString() })

    const downloaders: Downloader[] = []
    for (const [index, multiple] of options.bids.entries()) {
      const bid = options.floor * BigInt(Math.round(multiple * 1000)) / 1000n
      const name = bid === 0n ? `free-${index + 1}` : `bid-${multiple}x`
      const dataDir = join(root, name)
      const wallet = bid === 0n ? null : await walletIn(dataDir)
      await mkdir(dataDir, { recursive: true })
      const daemon = await startChildDaemon(dataDir, bid === 0n ? { BIDTORRENT_LOG_LEVEL: 'warn' } : marketEnv, ['--no-pex'])
      daemons.push(daemon)
      downloaders.push({ name, bid, daemon, wallet, completedAfter: null })
    }
    const parties = [{ name: 'seeder', wallet: seederWallet }, ...downloaders.flatMap((peer) => (peer.wallet ? [{ name: peer.name, wallet: peer.wallet }] : []))]
    await chain?.fund(parties.map((party) => party.wallet))

    const startedAt = Date.now()
    await Promise.all(downloaders.map(({ daemon, bid }) => daemon.api.request('POST', '/v1/torrents', {
      magnet: seeded.magnet,
      directory: join(daemon.dataDir, 'download'),
      peers: [`127.0.0.1:${seeder.peerPort}`],
      ...(bid > 0n ? { bid: bid.toString(), budget: budgetFor(bid).toString() } : {})
    })))

    let contended: Record<string, number> = {}
    // The seeder's upload by slot kind, from the change in each connection's upload between samples.
    const uploadedBefore = new Map<string, number>()
    const byClass = { free: 0, paid: 0 }
    let auctionRan = false
    const sampleSlots = async (): Promise<void> => {
      const peers = await seeder.api.request<PeerInfo[]>('GET', `/v1/torrents/${seeded.infoHash}/peers`)
      // Counted from the first auction on: before the bids land, slots go by the usual reciprocity.
      const counting = auctionRan
      auctionRan ||= peers.some((peer) => peer.slot === 'paid')
      for (const peer of peers) {
        const sent = peer.uploaded - (uploadedBefore.get(peer.address) ?? 0)
        uploadedBefore.set(peer.address, peer.uploaded)
        if (!counting) continue
        if (peer.slot === 'paid') byClass.paid += sent
        else byClass.free += sent
      }
    }
    let rows: DemoPeerRow[] = []
    const deadline = startedAt + options.timeoutSeconds * 1000
    const snapshot = async (): Promise<DemoPeerRow[]> => {
      const seederView = await seeder.api.request<TorrentView>('GET', `/v1/torrents/${seeded.infoHash}`)
      const earnings = await seeder.api.request<VoucherTotals>('GET', '/v1/earnings')
      return Promise.all(downloaders.map(async (peer) => {
        const view = await peer.daemon.api.request<TorrentView>('GET', `/v1/torrents/${seeded.infoHash}`)
        const spending = peer.wallet ? await peer.daemon.api.request<VoucherTotals>('GET', '/v1/spending') : undefined
        if (peer.completedAfter === null && view.pieceCount !== null && view.verifiedPieces === view.pieceCount) peer.completedAfter = (Date.now() - startedAt) / 1000
        return {
          name: peer.name,
          bid: peer.bid.toString(),
          progress: view.progress,
          downloaded: view.downloaded,
          downloadRate: view.downloadRate,
          completedAfter: peer.completedAfter,
          paid: (spending ? totalFrom(spending, seederWallet) : 0n).toString(),
          owedForVerified: tradeWith(view, seederWallet)?.owedToThem ?? '0',
          chargedBySeeder: tradeWith(seederView, peer.wallet)?.chargedToThem ?? '0',
          earnedBySeeder: totalFrom(earnings, peer.wallet).toString()
        }
      }))
    }
    for (;;) {
      rows = await snapshot()
      const elapsed = (Date.now() - startedAt) / 1000
      options.onProgress?.(rows, elapsed)
      if (rows.every((row) => row.completedAfter === null)) {
        await sampleSlots()
        const total = rows.reduce((sum, row) => sum + row.downloaded, 0)
        if (total > 0) contended = Object.fromEntries(rows.map((row) => [row.name, row.downloaded / total]))
      }
      if (rows.every((row) => row.completedAfter !== null)) break
      if (Date.now() > deadline) throw new Error(`the demo did not finish within ${options.timeoutSeconds} s`)
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    // The last vouchers go out within a fraction of a second of the last pieces: wait until every
    // bidder's payments stand still and the seeder holds them.
    for (let settled = 0; settled < 3 && Date.now() < deadline + 30_000;) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      const next = await snapshot()
      const same = next.every((row, i) => row.paid === rows[i]!.paid && row.paid === row.earnedBySeeder)
      settled = same ? settled + 1 : 0
      rows = next
    }
    options.onProgress?.(rows, (Date.now() - startedAt) / 1000)
    const paymentErrors = Object.fromEntries(rows.filter((row) => row.bid !== '0').map((row) => [row.name, (BigInt(row.paid) - BigInt(row.owedForVerified)).toString()]))
    const seederEarned = rows.reduce((sum, row) => sum + BigInt(row.earnedBySeeder), 0n)
    let chainReport: ChainReport | undefined
    if (chain) {
      // Claim everything now, whatever its size, then read the chain.
      await seeder.api.request('POST', '/v1/settle')
      chainReport = await chain.report(parties, seederWallet, seeded.infoHash)
    }
    return {
      size: options.size,
      uploadLimit: options.uploadLimit,
      floor: options.floor.toString(),
      peers: rows,
      sharesWhileContended: contended,
      freeClassShareWhileContended: byClass.free + byClass.paid > 0 ? byClass.free / (byClass.free + byClass.paid) : 0,
      paymentErrors,
      seederEarned: seederEarned.toString(),
      ...(chainReport ? { chain: chainReport } : {})
    }
  } finally {
    chain?.close()
    await Promise.all(daemons.map((daemon) => daemon.stop()))
    if (!options.directory) await rm(root, { recursive: true, force: true })
  }
}

const MiB = 1024 * 1024

/** The live table: one line per downloader. */
export function renderRows (rows: readonly DemoPeerRow[], elapsedSeconds: number): string {
  const lines = [`${elapsedSeconds.toFixed(0).padStart(4)} s  peer        bid (BTT/MiB)   progress   speed        paid (BTT)`]
  for (const row of rows) {
    const bar = '#'.repeat(Math.round(row.progress * 20)).padEnd(20, '.')
    const speed = row.completedAfter !== null ? `done ${row.completedAfter.toFixed(1)} s` : `${(row.downloadRate / MiB).toFixed(2)} MiB/s`
    const bid = row.bid === '0' ? 'none' : formatBtt(BigInt(row.bid))
    lines.push(`        ${row.name.padEnd(11)} ${bid.padEnd(15)} [${bar}] ${speed.padEnd(12)} ${formatBtt(BigInt(row.paid))}`)
  }
  return lines.join('\n')
}

/** The closing summary: time per bid, bytes and BTT per peer, the free peer's share, the payment check. */
export function renderSummary (summary: DemoSummary): string {
  const lines = ['', 'Summary', `  seeder: ${(summary.size / MiB).toFixed(0)} MiB at ${(summary.uploadLimit / MiB).toFixed(1)} MiB/s, floor ${formatBtt(BigInt(summary.floor))}/MiB, earned ${formatBtt(BigInt(summary.seederEarned))}`]
  lines.push(`  free class (peers outside paid slots) while all downloaded: ${(summary.freeClassShareWhileContended * 100).toFixed(1)}% of the seeder's upload`)
  lines.push('  peer        bid/MiB         finished   share while all downloaded   paid (BTT)          paid - owed for verified')
  for (const row of summary.peers) {
    const share = summary.sharesWhileContended[row.name]
    const error = summary.paymentErrors[row.name]
    lines.push(`  ${row.name.padEnd(11)} ${(row.bid === '0' ? 'none' : formatBtt(BigInt(row.bid))).padEnd(15)} ${(row.completedAfter?.toFixed(1) ?? '-').padStart(6)} s   ${share === undefined ? '-'.padStart(6) : `${(share * 100).toFixed(1).padStart(5)}%`}                       ${formatBtt(BigInt(row.paid)).padEnd(19)} ${error === undefined ? 'free: paid nothing' : error === '0' ? '0 (exact)' : error}`)
  }
  if (summary.chain) {
    lines.push('', `On chain ${summary.chain.chainId}, channel contract ${summary.chain.contract}:`)
    for (const party of summary.chain.parties) {
      const change = BigInt(party.after) - BigInt(party.before)
      lines.push(`  ${party.name.padEnd(11)} ${party.address}  balance ${formatBtt(BigInt(party.after))} (${change >= 0n ? '+' : '-'}${formatBtt(change >= 0n ? change : -change)}, gas included)`)
    }
    for (const channel of summary.chain.channels) {
      const row = summary.peers.find((peer) => peer.name === summary.chain!.parties.find((party) => party.address === evmAddressOf(channel.payer))?.name)
      const exact = row && row.paid === channel.claimed ? 'claimed = paid, exactly' : `paid ${row?.paid ?? '?'}`
      lines.push(`  channel from ${channel.payer}: deposit ${formatBtt(BigInt(channel.deposited))}, claimed ${formatBtt(BigInt(channel.claimed))} (${exact})`)
    }
  }
  return lines.join('\n')
}
