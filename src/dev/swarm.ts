import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerInfo, TorrentView, TradeTotals, VoucherTotals } from '../api/types.js'
import { createTorrentFrom } from '../engine/create.js'
import { readablePrice } from '../money/price.js'
import { freePort } from '../util/ports.js'
import { formatBytes, formatRate } from '../util/units.js'
import { createWallet } from '../wallet/keystore.js'
import { startChildDaemon, type ChildDaemon } from './processes.js'

/**
 * A swarm on 127.0.0.1 that behaves like one: a seeder with a capped upload, leechers whose uploads
 * are capped well below it (home uplinks), a tracker, peer exchange on, some leechers bidding and
 * some not (bidtorrent peers without a wallet, and any other client the caller starts), all real
 * daemons in their own processes. Leechers trade among themselves as usual; what a bid buys is
 * measured against that, with both sides' books read back at the end.
 */

/** A peer of another client (libtorrent, say) that the caller starts in the swarm: a free peer. */
export interface ExternalPeer {
  readonly name: string
  /** What it has now; `done` once it has every piece. */
  status (): { readonly progress: number, readonly downloaded: number, readonly done: boolean }
  stop (): Promise<void>
}

export type ExternalPeerStarter = (torrentFile: string, saveDirectory: string) => Promise<ExternalPeer>

/** A tracker the swarm announces to, on a port the swarm picked. */
export interface SwarmTracker {
  close (): Promise<void>
}

export type TrackerStarter = (port: number, infoHash: string, directory: string) => Promise<SwarmTracker>

export interface LeecherSpec {
  readonly name: string
  /** Base units per MiB; 0 = a free peer without a wallet (a plain BitTorrent peer). */
  readonly bid: bigint
  readonly budget: bigint
}

export interface SwarmOptions {
  readonly size: number
  /** The seeder's upload cap, bytes per second. */
  readonly seederUploadLimit: number
  /** Each leecher's upload cap, bytes per second (0: uncapped). */
  readonly leecherUploadLimit: number
  /** The seeder's floor, base units per MiB; 0 with no bids = the market off. */
  readonly floor: bigint
  readonly leechers: readonly LeecherSpec[]
  /** Other clients' peers, free (they do not speak the bid extension). */
  readonly externalPeers?: readonly ExternalPeerStarter[]
  /** Peer exchange on the leechers (default on, as every client has it). */
  readonly pex?: boolean
  readonly tracker: TrackerStarter
  /** Keep the swarm's files here (default: a temporary folder, removed at the end). */
  readonly directory?: string
  readonly timeoutSeconds: number
  /** Settings for every daemon with a wallet (a chain backend, say). */
  readonly marketEnv?: NodeJS.ProcessEnv
  /** Called with the wallets of the seeder and the bidders before the download starts (to fund them). */
  readonly beforeStart?: (wallets: ReadonlyArray<{ name: string, wallet: string }>) => Promise<void>
  /** Called when every peer is done and the books are read, while the daemons still run (to settle on chain). */
  readonly afterDone?: (seeder: ChildDaemon, infoHash: string) => Promise<void>
  /** What the swarm is doing before the table can start: "seeder ready", "5 leechers started"… */
  readonly onStatus?: (line: string) => void
  /** Called about once a second with every peer's state. */
  readonly onProgress?: (rows: readonly SwarmPeerRow[], elapsedSeconds: number) => void
}

export type PeerKind = 'bidder' | 'free' | 'external'

export interface SwarmPeerRow {
  readonly name: string
  readonly kind: PeerKind
  /** Base units per MiB; '0' for free peers. */
  readonly bid: string
  readonly progress: number
  readonly downloaded: number
  readonly downloadRate: number
  /** Seconds from the start of the download to its last verified piece. */
  readonly completedAfter: number | null
  /** What the sellers confirmed holding from it (its spending), and what it signed beyond that. */
  readonly paid: string
  readonly signedNotAccepted: string
}

/** One payment channel, as each side's books have it. */
export interface ChannelBooks {
  readonly payer: string
  readonly payee: string
  /** Verified bytes the payer bought on it, and what they cost at the agreed rates (the payer's meter). */
  readonly boughtBytes: number
  readonly owedForVerified: string
  /** The payer's spending on it (what the payee confirmed), and the payee's earnings from it. */
  readonly paid: string
  readonly earned: string
  readonly signedNotAccepted: string
  /** What the payee charged for the bytes it sent (its meter: includes pieces that failed or never verified). */
  readonly chargedBySeller: string
  /** paid − owed for verified bytes, and paid − earned: both exactly 0 when the market keeps its promise. */
  readonly paymentError: string
  readonly booksGap: string
}

export interface SwarmResult {
  readonly size: number
  readonly seederUploadLimit: number
  readonly leecherUploadLimit: number
  readonly floor: string
  readonly infoHash: string
  readonly peers: readonly SwarmPeerRow[]
  /** Each leecher's share of all bytes delivered while every peer was still downloading. */
  readonly sharesWhileContended: Readonly<Record<string, number>>
  /**
   * The seeder's upload to peers outside paid slots (the free class) over its whole upload, from its
   * first auction until the first peer finished.
   */
  readonly freeClassShareWhileContended: number
  /** The last peer's completion, seconds. */
  readonly allDoneSeconds: number
  readonly channels: readonly ChannelBooks[]
  readonly seederEarned: string
  /** The seeder's and the bidders' wallets, by name. */
  readonly wallets: Readonly<Record<string, string>>
}

const PASSPHRASE_BYTES = 18
const POLL_MS = 1000

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

interface DaemonPeer {
  readonly name: string
  readonly kind: 'bidder' | 'free'
  readonly bid: bigint
  readonly budget: bigint
  readonly daemon: ChildDaemon
  readonly wallet: string | null
  completedAfter: number | null
}

interface ExternalRow {
  readonly peer: ExternalPeer
  completedAfter: number | null
  lastDownloaded: number
  rate: number
}

function channelTotal (totals: VoucherTotals, infoHash: string, wallet: string): { amount: bigint, signedNotAccepted: bigint } {
  const channel = totals.torrents.find((torrent) => torrent.infoHash === infoHash)?.peers.find((peer) => peer.wallet === wallet)
  return { amount: BigInt(channel?.amount ?? '0'), signedNotAccepted: BigInt(channel?.signedNotAccepted ?? '0') }
}

function tradeWith (view: TorrentView | undefined, wallet: string | null): TradeTotals | undefined {
  return view?.market?.trades.find((trade) => trade.wallet === wallet)
}

/** Runs the swarm to completion and reads back every peer's time and both sides of every channel. */
export async function runSwarm (options: SwarmOptions): Promise<SwarmResult> {
  const root = options.directory ?? await mkdtemp(join(tmpdir(), 'bidtorrent-swarm-'))
  const daemons: ChildDaemon[] = []
  const externals: ExternalRow[] = []
  let tracker: SwarmTracker | undefined
  const passphrase = randomBytes(PASSPHRASE_BYTES).toString('base64')
  const status = options.onStatus ?? (() => {})
  try {
    const contentDir = join(root, 'content')
    await mkdir(contentDir, { recursive: true })
    const file = join(contentDir, 'patch.bin')
    await writeRandomFile(file, options.size)
    const port = await freePort()
    const meta = await createTorrentFrom(file, { trackers: [`http://127.0.0.1:${port}/announce`] })
    const torrentFile = join(root, 'patch.torrent')
    await writeFile(torrentFile, meta.torrentFile)
    tracker = await options.tracker(port, meta.infoHash, root)
    status(`tracker on 127.0.0.1:${port}`)

    const walletIn = async (dataDir: string): Promise<string> => {
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      return (await createWallet(dataDir, passphrase)).tron
    }
    const selling = options.floor > 0n
    const marketEnv = { BIDTORRENT_PASSPHRASE: passphrase, BIDTORRENT_LOG_LEVEL: 'warn', ...options.marketEnv }
    const plainEnv = { BIDTORRENT_LOG_LEVEL: 'warn' }
    const leecherArgs = [...(options.leecherUploadLimit > 0 ? ['--upload-limit', String(options.leecherUploadLimit)] : []), ...(options.pex === false ? ['--no-pex'] : [])]

    const seederDir = join(root, 'seeder')
    const seederWallet = selling ? await walletIn(seederDir) : null
    await mkdir(seederDir, { recursive: true })
    const seeder = await startChildDaemon(seederDir, selling ? marketEnv : plainEnv, ['--upload-limit', String(options.seederUploadLimit)])
    daemons.push(seeder)
    const torrentBody = (directory: string): Record<string, unknown> => ({ torrent: meta.torrentFile.toString('base64'), directory })
    await seeder.api.request('POST', '/v1/torrents', { ...torrentBody(contentDir), ...(selling ? { floor: options.floor.toString() } : {}) })
    for (;;) {
      const view = await seeder.api.request<TorrentView>('GET', `/v1/torrents/${meta.infoHash}`)
      if (view.state === 'seeding') break
      if (view.state === 'error') throw new Error(`the seeder cannot seed: ${view.error ?? 'unknown error'}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    status(`seeder ready: ${meta.name}, ${formatBytes(options.size)}, upload capped at ${formatRate(options.seederUploadLimit)}${selling ? `, floor ${readablePrice(options.floor)}` : ', market off'}`)

    const leechers: DaemonPeer[] = await Promise.all(options.leechers.map(async (spec) => {
      const dataDir = join(root, spec.name)
      const wallet = spec.bid > 0n ? await walletIn(dataDir) : null
      await mkdir(dataDir, { recursive: true })
      const daemon = await startChildDaemon(dataDir, wallet ? marketEnv : plainEnv, leecherArgs)
      daemons.push(daemon)
      return { name: spec.name, kind: wallet ? 'bidder' as const : 'free' as const, bid: spec.bid, budget: spec.budget, daemon, wallet, completedAfter: null }
    }))
    const wallets: Record<string, string> = {}
    if (seederWallet) wallets.seeder = seederWallet
    for (const peer of leechers) if (peer.wallet) wallets[peer.name] = peer.wallet
    await options.beforeStart?.(Object.entries(wallets).map(([name, wallet]) => ({ name, wallet })))
    status(`${leechers.length} bidtorrent leechers started (${leechers.filter((peer) => peer.kind === 'bidder').length} bidding), uploads capped at ${options.leecherUploadLimit > 0 ? formatRate(options.leecherUploadLimit) : 'nothing'}, PEX ${options.pex === false ? 'off' : 'on'}`)

    const startedAt = Date.now()
    await Promise.all(leechers.map(({ daemon, bid, budget }) => daemon.api.request('POST', '/v1/torrents', {
      ...torrentBody(join(daemon.dataDir, 'download')),
      ...(bid > 0n ? { bid: bid.toString(), budget: budget.toString() } : {})
    })))
    for (const [index, start] of (options.externalPeers ?? []).entries()) {
      const saveDir = join(root, `external-${index + 1}`)
      await mkdir(saveDir, { recursive: true })
      externals.push({ peer: await start(torrentFile, saveDir), completedAfter: null, lastDownloaded: 0, rate: 0 })
    }
    if (externals.length > 0) status(`${externals.map((row) => row.peer.name).join(', ')} started`)

    // The seeder's upload by slot kind, from the change in each connection's upload between samples.
    const uploadedBefore = new Map<string, number>()
    const byClass = { free: 0, paid: 0 }
    let auctionRan = !selling
    const sampleSlots = async (): Promise<void> => {
      const peers = await seeder.api.request<PeerInfo[]>('GET', `/v1/torrents/${meta.infoHash}/peers`)
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

    const views = new Map<string, TorrentView>()
    const snapshot = async (): Promise<SwarmPeerRow[]> => {
      const elapsed = (Date.now() - startedAt) / 1000
      const rows = await Promise.all(leechers.map(async (peer): Promise<SwarmPeerRow> => {
        const view = await peer.daemon.api.request<TorrentView>('GET', `/v1/torrents/${meta.infoHash}`)
        views.set(peer.name, view)
        if (peer.completedAfter === null && view.pieceCount !== null && view.verifiedPieces === view.pieceCount) peer.completedAfter = elapsed
        return {
          name: peer.name,
          kind: peer.kind,
          bid: peer.bid.toString(),
          progress: view.progress,
          downloaded: view.downloaded,
          downloadRate: view.downloadRate,
          completedAfter: peer.completedAfter,
          paid: view.market?.paid ?? '0',
          signedNotAccepted: view.market?.signedNotAccepted ?? '0'
        }
      }))
      for (const row of externals) {
        const now = row.peer.status()
        row.rate = Math.max(0, now.downloaded - row.lastDownloaded) / (POLL_MS / 1000)
        row.lastDownloaded = now.downloaded
        if (row.completedAfter === null && now.done) row.completedAfter = elapsed
        rows.push({ name: row.peer.name, kind: 'external', bid: '0', progress: now.progress, downloaded: now.downloaded, downloadRate: row.rate, completedAfter: row.completedAfter, paid: '0', signedNotAccepted: '0' })
      }
      return rows
    }

    let rows: SwarmPeerRow[] = []
    let contended: Record<string, number> = {}
    const deadline = startedAt + options.timeoutSeconds * 1000
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
      if (Date.now() > deadline) throw new Error(`the swarm did not finish within ${options.timeoutSeconds} s: ${rows.filter((row) => row.completedAfter === null).map((row) => `${row.name} at ${(row.progress * 100).toFixed(1)}%`).join(', ')}`)
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }

    // The last vouchers leave within a fraction of a second of the last pieces, and each seller
    // confirms each one: wait until both sides' books stand still and agree, or say where they differ.
    const readBooks = async (): Promise<ChannelBooks[]> => {
      const sellers = selling ? [{ name: 'seeder', daemon: seeder, wallet: seederWallet! }] : []
      const earnings = await Promise.all(sellers.map(async (seller) => ({ ...seller, totals: await seller.daemon.api.request<VoucherTotals>('GET', '/v1/earnings'), view: await seller.daemon.api.request<TorrentView>('GET', `/v1/torrents/${meta.infoHash}`) })))
      const books: ChannelBooks[] = []
      for (const buyer of leechers) {
        if (!buyer.wallet) continue
        const spending = await buyer.daemon.api.request<VoucherTotals>('GET', '/v1/spending')
        const view = await buyer.daemon.api.request<TorrentView>('GET', `/v1/torrents/${meta.infoHash}`)
        for (const seller of earnings) {
          const paid = channelTotal(spending, meta.infoHash, seller.wallet)
          const earned = channelTotal(seller.totals, meta.infoHash, buyer.wallet).amount
          const trade = tradeWith(view, seller.wallet)
          const owed = BigInt(trade?.owedToThem ?? '0')
          books.push({
            payer: buyer.name,
            payee: seller.name,
            boughtBytes: trade?.boughtBytes ?? 0,
            owedForVerified: owed.toString(),
            paid: paid.amount.toString(),
            earned: earned.toString(),
            signedNotAccepted: paid.signedNotAccepted.toString(),
            chargedBySeller: tradeWith(seller.view, buyer.wallet)?.chargedToThem ?? '0',
            paymentError: (paid.amount - owed).toString(),
            booksGap: (paid.amount - earned).toString()
          })
        }
      }
      return books
    }
    let channels = await readBooks()
    for (let steady = 0; steady < 3 && Date.now() < deadline + 30_000;) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      const next = await readBooks()
      const settled = next.every((channel, i) => channel.paid === channels[i]?.paid && channel.signedNotAccepted === '0' && channel.booksGap === '0')
      steady = settled ? steady + 1 : 0
      channels = next
    }
    rows = await snapshot()
    options.onProgress?.(rows, (Date.now() - startedAt) / 1000)
    await options.afterDone?.(seeder, meta.infoHash)
    return {
      size: options.size,
      seederUploadLimit: options.seederUploadLimit,
      leecherUploadLimit: options.leecherUploadLimit,
      floor: options.floor.toString(),
      infoHash: meta.infoHash,
      peers: rows,
      sharesWhileContended: contended,
      freeClassShareWhileContended: byClass.free + byClass.paid > 0 ? byClass.free / (byClass.free + byClass.paid) : 1,
      allDoneSeconds: Math.max(...rows.map((row) => row.completedAfter ?? 0)),
      channels,
      seederEarned: channels.reduce((sum, channel) => sum + BigInt(channel.earned), 0n).toString(),
      wallets
    }
  } finally {
    await Promise.all([...externals.map((row) => row.peer.stop()), ...daemons.map((daemon) => daemon.stop())])
    // Kept swarms keep each daemon's log beside its data.
    if (options.directory) await Promise.all(daemons.map((daemon) => writeFile(join(daemon.dataDir, 'daemon.log'), daemon.output()).catch(() => {})))
    await tracker?.close()
    if (!options.directory) await rm(root, { recursive: true, force: true })
  }
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
