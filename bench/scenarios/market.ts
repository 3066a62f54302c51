import { readFile } from 'node:fs/promises'
import { Trx } from 'tronweb'
import type { VoucherTotals } from '../../src/api/types.js'
import { addressOfPrivateKey } from '../../src/money/address.js'
import { builtInSettings } from '../../src/config/settings.js'
import { renderSummary, runDemo, type DemoSummary } from '../../src/dev/demo.js'
import { parseDecimal, parseQuote, usdToBtt } from '../../src/money/price.js'
import { NO_CONTRACT, VOUCHER_TYPES, channelIdFor, signVoucher, signedBy } from '../../src/money/voucher.js'
import { startDaemon, tempDir, type RunningDaemon } from '../../testkit/daemon.js'
import { marketDaemon } from '../../testkit/market.js'
import { libtorrentPeer, opentrackerOn } from '../../testkit/swarm.js'
import { waitFor } from '../../testkit/process.js'
import { CleanupStack } from '../lib/cleanup.js'
import { downloadWith } from '../lib/leecher.js'
import { warmPageCache } from '../lib/page-cache.js'
import { median } from '../lib/proc.js'

/** The seller's floor, base units per MiB: with one bidder the uniform clearing price is the floor. */
const FLOOR = 1_000_000n

export interface MarketResult {
  readonly verificationsPerSecond: number
  readonly tronwebVerificationsPerSecond: number
  readonly signaturesPerSecond: number
  readonly secondsWithBids: readonly number[]
  readonly secondsWithoutExtension: readonly number[]
  /** Median time without the extension / median time with bids and vouchers (1 = no overhead). */
  readonly throughputRatio: number
  readonly vouchersPerRun: number
  /** Paid − verified bytes × rate, in base units, for every run with bids (goal: all zero). */
  readonly paymentErrors: readonly string[]
  /** (c) Efficacy: the market in a swarm that trades, against the same swarm with the market off. */
  readonly efficacy: EfficacyResult
}

export interface EfficacySetup {
  readonly size: number
  /** The seeder's upload cap, and each leecher's (a home uplink), bytes per second. */
  readonly uploadLimit: number
  readonly leecherUploadLimit: number
  readonly reps: number
}

/** Each repetition: the swarm with the market on, then the same swarm with it off. */
export interface EfficacyResult {
  readonly setup: EfficacySetup & { readonly floor: string, readonly bids: readonly number[], readonly libtorrent: boolean }
  readonly runs: ReadonlyArray<{ readonly market: DemoSummary, readonly baseline: DemoSummary }>
}

/** Bidders 1×, 2× and 4× the floor beside two free bidtorrent peers and a free libtorrent peer. */
const EFFICACY_BIDS = [0, 0, 1, 2, 4]

/**
 * The market where peers trade among themselves: opentracker, PEX on, leechers' uploads capped well
 * below the seeder's, free peers (bidtorrent and libtorrent) and bidders at a CDN-like price (the
 * floor 0.01 USD/GiB at the daemons' BTT price: about 16 BTT/MiB). Alternated with the same swarm
 * with the market off, so that drift in the machine's load hits both alike.
 */
async function runEfficacy (setup: EfficacySetup, libtorrent: boolean): Promise<EfficacyResult> {
  const usdPerBtt = parseDecimal(builtInSettings().usdPerBtt!)
  const floor = usdToBtt((parseQuote('0.01USD/GiB') as { usdPerMiB: bigint }).usdPerMiB, usdPerBtt)
  const runs: Array<{ market: DemoSummary, baseline: DemoSummary }> = []
  for (let rep = 1; rep <= setup.reps; rep++) {
    const once = async (marketOff: boolean): Promise<DemoSummary> => {
      const cleanup = new CleanupStack()
      try {
        return await runDemo({
          size: setup.size,
          uploadLimit: setup.uploadLimit,
          leecherUploadLimit: setup.leecherUploadLimit,
          floor,
          bids: EFFICACY_BIDS,
          marketOff,
          tracker: opentrackerOn(cleanup),
          ...(libtorrent ? { externalPeers: [libtorrentPeer(cleanup, setup.leecherUploadLimit)] } : {}),
          timeoutSeconds: 1800
        })
      } finally {
        await cleanup.run()
      }
    }
    const market = await once(false)
    console.log(renderSummary(market))
    const baseline = await once(true)
    console.log(`rep ${rep}  market efficacy: top bidder ${market.speedup?.toFixed(2)}x the median free peer; all done ${market.allDoneSeconds.toFixed(1)} s with the market, ${baseline.allDoneSeconds.toFixed(1)} s without`)
    runs.push({ market, baseline })
  }
  return { setup: { ...setup, floor: floor.toString(), bids: EFFICACY_BIDS, libtorrent }, runs }
}

/** Voucher signatures verified a second by the daemon's verifier, and by tronweb's pure-JS one. */
function verificationRates (): Pick<MarketResult, 'verificationsPerSecond' | 'tronwebVerificationsPerSecond' | 'signaturesPerSecond'> {
  const key = '0b2f8ad3c1a7bd1c8c8f3f2f7fd5a2c5c3f6e4b1b5a7e0d9c8b7a6f5e4d3c2b1'
  const payer = addressOfPrivateKey(key)
  const domain = { chainId: 0, verifyingContract: NO_CONTRACT }
  const channel = channelIdFor(payer, payer, '00'.repeat(20))
  let started = performance.now()
  const vouchers = Array.from({ length: 2000 }, (_, i) => signVoucher(key, domain, { channel, nonce: i + 1, amount: BigInt(i) * 1000n }))
  const signaturesPerSecond = vouchers.length / ((performance.now() - started) / 1000)
  started = performance.now()
  let verified = 0
  while (performance.now() - started < 2000) for (const voucher of vouchers) if (signedBy(domain, voucher, payer)) verified++
  const verificationsPerSecond = verified / ((performance.now() - started) / 1000)
  const tronDomain = { name: 'bidtorrent', version: '1', chainId: 0, verifyingContract: NO_CONTRACT }
  started = performance.now()
  let tronwebVerified = 0
  for (const voucher of vouchers.slice(0, 100)) {
    const value = { channelId: `0x${Buffer.from(voucher.channel).toString('hex')}`, nonce: voucher.nonce, amount: voucher.amount.toString() }
    if (Trx.verifyTypedData(tronDomain, VOUCHER_TYPES, value, `0x${Buffer.from(voucher.signature).toString('hex')}`, payer)) tronwebVerified++
  }
  const tronwebVerificationsPerSecond = tronwebVerified / ((performance.now() - started) / 1000)
  return { verificationsPerSecond, tronwebVerificationsPerSecond, signaturesPerSecond }
}

/** A daemon with its own wallet, quiet (the bench reads its API, not its log). */
async function withWallet (cleanup: CleanupStack): Promise<RunningDaemon> {
  return (await marketDaemon(cleanup, { args: ['--log-level', 'warn'] })).daemon
}

/** One download from the market seller, with a bid (and a voucher per verified piece) or with the extension off. */
async function download (torrentFile: string, seller: RunningDaemon, bytes: number, withBids: boolean, warm: boolean): Promise<{ seconds: number, paymentError: bigint | undefined }> {
  const cleanup = new CleanupStack()
  try {
    const leecher = withBids
      ? await withWallet(cleanup)
      : await startDaemon(cleanup, { args: ['--log-level', 'warn'], env: { BIDTORRENT_MARKET: 'false' } })
    const out = await tempDir(cleanup, 'bidtorrent-bench-market-out-')
    if (warm) await warmPageCache(out, bytes)
    const done = await downloadWith(leecher, torrentFile, out, [`127.0.0.1:${seller.peerPort}`],
      withBids ? { bid: (FLOOR * 2n).toString(), budget: (10n ** 21n).toString() } : {})
    let paymentError: bigint | undefined
    if (withBids) {
      // What the leecher owes for the verified bytes it bought, at its bid (pay-as-bid), by its own
      // meter; the last voucher leaves just after the last piece verifies, and the seller confirms it.
      const books = async (): Promise<{ paid: bigint, owed: bigint, settled: boolean }> => {
        const view = await leecher.torrent(done.infoHash)
        const spending = await leecher.api.request<VoucherTotals>('GET', '/v1/spending')
        const owed = BigInt(view.market?.trades[0]?.owedToThem ?? '0')
        return { paid: BigInt(spending.total), owed, settled: spending.signedNotAccepted === '0' && BigInt(spending.total) === owed && owed > 0n }
      }
      const final = await waitFor('the last voucher, confirmed', async () => { const state = await books(); return state.settled ? state : undefined }, 30_000, 100).catch(books)
      paymentError = final.paid - final.owed
    }
    await leecher.stop()
    return { seconds: (done.completedAt! - done.startedAt) / 1000, paymentError }
  } finally {
    await cleanup.run()
  }
}

/**
 * The market's cost and correctness: (a) download time with a bid and a voucher per verified piece
 * against the same download with the extension off, alternated; (b) how many vouchers a second the
 * seller can verify; the payment error of every paid run.
 */
export async function runMarket (torrentFile: string, infoHash: string, dataDir: string, bytes: number, reps: number, warm: boolean, efficacySetup: EfficacySetup, libtorrent: boolean): Promise<MarketResult> {
  const rates = verificationRates()
  console.log(`vouchers: ${rates.verificationsPerSecond.toFixed(0)} verified/s (tronweb's pure-JS verify: ${rates.tronwebVerificationsPerSecond.toFixed(0)}/s), ${rates.signaturesPerSecond.toFixed(0)} signed/s`)
  const cleanup = new CleanupStack()
  try {
    const seller = await withWallet(cleanup)
    await seller.api.request('POST', '/v1/torrents', { torrent: (await readFile(torrentFile)).toString('base64'), directory: dataDir, floor: FLOOR.toString() })
    await waitFor('the market seller to check its data', async () => ((await seller.torrent(infoHash)).state === 'seeding' ? true : undefined), 600_000)
    const withBids: number[] = []
    const without: number[] = []
    const errors: string[] = []
    for (let rep = 1; rep <= reps; rep++) {
      const paid = await download(torrentFile, seller, bytes, true, warm)
      withBids.push(paid.seconds)
      errors.push((paid.paymentError ?? 0n).toString())
      const free = await download(torrentFile, seller, bytes, false, warm)
      without.push(free.seconds)
      console.log(`rep ${rep}  market: with bids ${paid.seconds.toFixed(2)} s (payment error ${paid.paymentError} base units), extension off ${free.seconds.toFixed(2)} s`)
    }
    const pieces = Math.ceil(bytes / (1024 * 1024))
    await cleanup.run()
    const efficacy = await runEfficacy(efficacySetup, libtorrent)
    return { ...rates, secondsWithBids: withBids, secondsWithoutExtension: without, throughputRatio: median(without) / median(withBids), vouchersPerRun: pieces, paymentErrors: errors, efficacy }
  } finally {
    await cleanup.run()
  }
}
