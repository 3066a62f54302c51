import cliProgress from 'cli-progress'
import type { ApiClient } from '../api/client.js'
import type { CreationProgress, TorrentView } from '../api/types.js'
import { readableBtt, readablePrice } from '../money/price.js'
import { BidtorrentError } from '../util/errors.js'
import { formatBytes, formatRate } from '../util/units.js'
import type { CommonOptions } from './options.js'

/** `1m05s`, `3h12m`: how long the rest takes at the current rate. */
function eta (bytesLeft: number, rate: number): string {
  if (bytesLeft <= 0) return 'done'
  if (rate < 1) return '?'
  const seconds = Math.ceil(bytesLeft / rate)
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`
  return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`
}

/** What the market part of the progress line says: paid so far, the rate paid now, BTT a second. */
function spendOf (torrent: TorrentView, bttPerSecond: bigint): string {
  const market = torrent.market
  if (!market || (market.bid === '0' && market.paid === '0')) return ''
  const rates = market.sellers.filter((seller) => seller.state === 'winning').map((seller) => BigInt(seller.rate))
  const top = rates.reduce((best, rate) => (rate > best ? rate : best), 0n)
  return ` | paid ${readableBtt(BigInt(market.paid))} | ${top > 0n ? `at ${readablePrice(top)}` : 'no paid slot'} | ${readableBtt(bttPerSecond)}/s`
}

/**
 * Polls the daemon until every piece of the chosen files is verified (it seeds), drawing a progress bar on a terminal with the
 * spend, the rate paid and the time left; the market's warnings (a bid that stopped working) are
 * printed as they come, on a terminal or not.
 */
export async function waitForCompletion (api: ApiClient, infoHash: string, options: CommonOptions): Promise<TorrentView> {
  const interactive = !options.json && process.stderr.isTTY
  const bar = interactive
    ? new cliProgress.SingleBar({
      format: '{bar} {percentage}% | {value}/{total} pieces | ↓ {rate} | ETA {eta} | {peers} peers | {state}{spend}',
      stream: process.stderr,
      hideCursor: true
    }, cliProgress.Presets.shades_classic)
    : undefined
  let started = false
  const seen = new Set<string>()
  let lastPaid: { amount: bigint, at: number } | undefined
  let spendRate = 0n
  try {
    for (;;) {
      const torrent = await api.torrent(infoHash)
      if (torrent.state === 'error') throw new BidtorrentError('ETORRENT', `torrent failed: ${torrent.error ?? 'unknown error'}`)
      for (const notice of torrent.market?.notices ?? []) {
        const key = `${notice.at} ${notice.message}`
        if (seen.has(key)) continue
        seen.add(key)
        const line = options.json ? JSON.stringify({ warning: notice.message, at: notice.at }) : `warning: ${notice.message}`
        process.stderr.write(`${started ? '\r\x1b[K' : ''}${line}\n`)
      }
      const now = Date.now()
      const paid = BigInt(torrent.market?.paid ?? '0')
      if (lastPaid && now > lastPaid.at) spendRate = (paid - lastPaid.amount) * 1000n / BigInt(now - lastPaid.at)
      lastPaid = { amount: paid, at: now }
      const total = torrent.pieceCount ?? 0
      if (bar) {
        const left = torrent.length === null ? 0 : Math.max(0, torrent.length * (1 - torrent.progress))
        const payload = { rate: formatRate(torrent.downloadRate), peers: torrent.peers, state: torrent.state, eta: eta(left, torrent.downloadRate), spend: spendOf(torrent, spendRate) }
        if (!started && total > 0) {
          bar.start(total, torrent.verifiedPieces, payload)
          started = true
        } else if (started) {
          bar.update(torrent.verifiedPieces, payload)
        }
      }
      if (total > 0 && (torrent.verifiedPieces === total || torrent.state === 'seeding')) return torrent
      await new Promise((done) => setTimeout(done, 500))
    }
  } finally {
    if (started) bar?.stop()
  }
}

/** What `seed` shows while the daemon hashes: `update` with each report, `stop` once it answered. */
export interface CreationDisplay {
  update (progress: CreationProgress): void
  stop (): void
}

/**
 * How far `seed`'s hashing is: a bar on a terminal; with --json, a line of JSON on stderr for each
 * report (stdout keeps the one answer); nothing otherwise.
 */
export function creationProgress (options: CommonOptions): CreationDisplay {
  if (options.json) return { update: (progress) => { process.stderr.write(`${JSON.stringify({ progress })}\n`) }, stop: () => {} }
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} }
  const bar = new cliProgress.SingleBar({
    format: 'hashing {bar} {percentage}% | {done} of {size} | {files} files',
    stream: process.stderr,
    hideCursor: true
  }, cliProgress.Presets.shades_classic)
  let started = false
  return {
    update: (progress) => {
      const payload = { done: formatBytes(progress.hashedBytes), size: formatBytes(progress.totalBytes), files: progress.files }
      if (!started) bar.start(progress.totalBytes, progress.hashedBytes, payload)
      else bar.update(progress.hashedBytes, payload)
      started = true
    },
    stop: () => { if (started) bar.stop() }
  }
}

/** Polls the daemon until the torrent's check of its data on disk is over. */
export async function waitForCheck (api: ApiClient, infoHash: string): Promise<TorrentView> {
  for (;;) {
    const torrent = await api.torrent(infoHash)
    if (torrent.state === 'error') throw new BidtorrentError('ETORRENT', `torrent failed: ${torrent.error ?? 'unknown error'}`)
    if (torrent.state !== 'checking') return torrent
    await new Promise((done) => setTimeout(done, 250))
  }
}
