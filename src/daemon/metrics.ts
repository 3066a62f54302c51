import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { PeerInfo } from '../engine/torrent.js'
import { BTT_DECIMALS } from '../money/price.js'
import type { SettlementHealth } from '../settlement/settlement.js'
import type { FaultCounts } from './faults.js'
import type { TorrentView, VoucherTotals } from './api-types.js'

/** What the metrics read at each scrape: the daemon's own figures, never a second set of books. */
export interface MetricSources {
  readonly torrents: () => readonly TorrentView[]
  readonly peers: (infoHash: string) => readonly PeerInfo[]
  /** Undefined when the market is off. */
  readonly earnings: (() => Promise<VoucherTotals>) | undefined
  readonly spending: (() => Promise<VoucherTotals>) | undefined
  /** Undefined unless settlement is on a chain. */
  readonly settlement: (() => Promise<SettlementHealth>) | undefined
  /** Warnings peers caused, by message (NetworkLog.counts). */
  readonly peerProblems: () => ReadonlyMap<string, number>
  /** Pieces hash-checked on the hash threads and the seconds they took, this run. */
  readonly hashChecks: () => Readonly<{ pieces: number, seconds: number }>
  readonly faults: () => FaultCounts | null
}

/** One read of every source: a scrape is one consistent picture. */
interface Snapshot {
  readonly torrents: readonly TorrentView[]
  readonly peers: ReadonlyMap<string, readonly PeerInfo[]>
  readonly earnings: VoucherTotals | undefined
  readonly spending: VoucherTotals | undefined
  readonly settlement: SettlementHealth | undefined
  readonly faults: FaultCounts | null
}

const TORRENT = ['info_hash', 'name'] as const
const SLOT_KINDS = ['paid', 'free', 'optimistic', 'none'] as const
type Labels = Record<string, string>
type Metric = Counter<string> | Gauge<string>

/**
 * Amounts are bigint base units in the books; Prometheus values are doubles, so metrics show BTT
 * (exact to about 15 significant digits, plenty for a chart; the API keeps the exact figures).
 */
function btt (baseUnits: string | bigint | undefined): number {
  return Number(BigInt(baseUnits ?? 0)) / 10 ** BTT_DECIMALS
}

interface Series<T> {
  readonly metric: Metric
  readonly read: (item: T) => number
}

/**
 * The daemon's Prometheus metrics (`GET /metrics`), per torrent and in total, read at each scrape
 * from the same statuses, peer lists and stored vouchers the API shows, so that a scrape and `info`
 * agree. Counters are set from those figures (they are this run's totals, monotonic while the
 * torrent is there); series of a removed torrent go with it. The API's request latency is observed
 * as requests finish.
 */
export class DaemonMetrics {
  readonly registry = new Registry()
  private readonly requestSeconds: Histogram<string>
  private readonly torrentSeries: ReadonlyArray<Series<TorrentView>>
  private readonly eventLoopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 })

  constructor (private readonly sources: MetricSources) {
    const { registry } = this
    // prom-client's default metrics name gauges `_total`, which Prometheus's own lint refuses: the
    // few a daemon's operator needs are here, named by the conventions.
    this.eventLoopDelay.enable()
    this.requestSeconds = new Histogram({
      name: 'bidtorrent_api_request_duration_seconds',
      help: 'Control API requests by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry]
    })
    const counter = (name: string, help: string, read: (torrent: TorrentView) => number): Series<TorrentView> =>
      ({ metric: new Counter({ name, help, labelNames: TORRENT, registers: [registry] }), read })
    const gauge = (name: string, help: string, read: (torrent: TorrentView) => number): Series<TorrentView> =>
      ({ metric: new Gauge({ name, help, labelNames: TORRENT, registers: [registry] }), read })
    this.torrentSeries = [
      counter('bidtorrent_torrent_downloaded_bytes_total', 'Payload bytes received, this run', (t) => t.downloaded),
      counter('bidtorrent_torrent_downloaded_from_web_seeds_bytes_total', 'Of those, from web seeds (BEP 19): what the swarm did not carry', (t) => t.downloadedFromWebSeeds),
      counter('bidtorrent_torrent_uploaded_bytes_total', 'Payload bytes sent to peers, this run', (t) => t.uploaded),
      counter('bidtorrent_torrent_wasted_bytes_total', 'Bytes received and thrown away (duplicates, failed pieces), this run', (t) => t.wasted),
      counter('bidtorrent_torrent_hash_failures_total', 'Pieces that failed their hash check, this run', (t) => t.hashFailures),
      counter('bidtorrent_torrent_pieces_downloaded_total', 'Pieces downloaded and verified, this run', (t) => t.piecesDownloaded),
      gauge('bidtorrent_torrent_download_rate_bytes', 'Download rate, bytes per second', (t) => t.downloadRate),
      gauge('bidtorrent_torrent_upload_rate_bytes', 'Upload rate, bytes per second', (t) => t.uploadRate),
      gauge('bidtorrent_torrent_verified_pieces', 'Pieces held and verified', (t) => t.verifiedPieces),
      gauge('bidtorrent_torrent_pieces', 'Pieces in the torrent (0 before its metadata)', (t) => t.pieceCount ?? 0),
      gauge('bidtorrent_torrent_progress_ratio', 'Share of the torrent verified, 0 to 1', (t) => t.progress),
      gauge('bidtorrent_torrent_seeds', 'Connected peers that have every piece', (t) => t.seeds),
      gauge('bidtorrent_torrent_banned_peers', 'Peers banned from the torrent', (t) => t.bannedPeers.length),
      gauge('bidtorrent_torrent_unreachable_peers', 'Known peers whose last call failed', (t) => t.unreachablePeers.length),
      gauge('bidtorrent_torrent_distributed_copies', 'Copies of the torrent among the connected peers and us: of the rarest piece, plus the share of pieces commoner than it', (t) => t.swarm.distributedCopies ?? 0),
      gauge('bidtorrent_torrent_rarest_piece_copies', 'Holders of the rarest piece among the connected peers and us', (t) => t.swarm.rarestPieceCopies ?? 0),
      counter('bidtorrent_torrent_completions_total', 'Full copies made while we watched (peers completing while connected, and our own download), this run', (t) => t.swarm.completions),
      gauge('bidtorrent_market_bid_btt_per_mib', 'Our bid, BTT per MiB (0: no bid)', (t) => btt(t.market?.bid)),
      gauge('bidtorrent_market_floor_btt_per_mib', 'The floor in force, BTT per MiB (0: sells nothing)', (t) => btt(t.market?.floor)),
      gauge('bidtorrent_market_signed_not_accepted_btt', 'Signed to sellers and not yet confirmed by them, BTT', (t) => btt(t.market?.signedNotAccepted)),
      counter('bidtorrent_market_vouchers_sent_total', 'As buyer: vouchers signed and sent to sellers, this run', (t) => t.market?.vouchers.sent ?? 0),
      counter('bidtorrent_market_vouchers_resent_total', 'As buyer: the latest voucher sent again on a new connection, this run', (t) => t.market?.vouchers.resent ?? 0),
      counter('bidtorrent_market_receipts_total', 'As buyer: receipts from sellers for our vouchers, this run', (t) => t.market?.vouchers.receipts ?? 0),
      counter('bidtorrent_market_vouchers_refused_by_sellers_total', 'As buyer: our vouchers that sellers refused, this run', (t) => t.market?.vouchers.refusedBySeller ?? 0),
      counter('bidtorrent_market_vouchers_received_total', 'As seller: vouchers that arrived from buyers, this run', (t) => t.market?.vouchers.received ?? 0),
      counter('bidtorrent_market_vouchers_accepted_total', 'As seller: vouchers checked and stored, this run', (t) => t.market?.vouchers.accepted ?? 0),
      counter('bidtorrent_market_vouchers_repeated_total', 'As seller: vouchers that were the one already held, this run', (t) => t.market?.vouchers.repeated ?? 0)
    ]
  }

  /** A control API request finished. */
  observeRequest (method: string, route: string, status: number, seconds: number): void {
    this.requestSeconds.observe({ method, route, status: String(status) }, seconds)
  }

  get contentType (): string {
    return this.registry.contentType
  }

  async text (): Promise<string> {
    const { sources } = this
    const torrents = sources.torrents()
    const snapshot: Snapshot = {
      torrents,
      peers: new Map(torrents.map((torrent) => [torrent.infoHash, sources.peers(torrent.infoHash)])),
      earnings: await sources.earnings?.(),
      spending: await sources.spending?.(),
      settlement: await sources.settlement?.(),
      faults: sources.faults()
    }
    this.fill(snapshot)
    return await this.registry.metrics()
  }

  private fill (snapshot: Snapshot): void {
    for (const { metric } of this.torrentSeries) metric.reset()
    for (const torrent of snapshot.torrents) {
      const labels = { info_hash: torrent.infoHash, name: torrent.name }
      for (const { metric, read } of this.torrentSeries) setTo(metric, labels, read(torrent))
    }
    this.gauge('bidtorrent_torrents', 'Torrents in the daemon', [], (set) => set({}, snapshot.torrents.length))
    this.gauge('bidtorrent_torrent_state', 'The state each torrent is in (1)', [...TORRENT, 'state'], (set) => {
      for (const torrent of snapshot.torrents) set({ info_hash: torrent.infoHash, name: torrent.name, state: torrent.state }, 1)
    })
    this.gauge('bidtorrent_torrent_peers', 'Connected peers by the upload slot we give them', [...TORRENT, 'slot'], (set) => {
      for (const torrent of snapshot.torrents) {
        const bySlot = new Map<string, number>(SLOT_KINDS.map((kind) => [kind, 0]))
        for (const peer of snapshot.peers.get(torrent.infoHash) ?? []) bySlot.set(peer.slot ?? 'none', (bySlot.get(peer.slot ?? 'none') ?? 0) + 1)
        for (const [slot, count] of bySlot) set({ info_hash: torrent.infoHash, name: torrent.name, slot }, count)
      }
    })
    this.counter('bidtorrent_market_vouchers_refused_total', 'As seller: vouchers refused by our checks, by the code the buyer was told, this run', [...TORRENT, 'code'], (set) => {
      for (const torrent of snapshot.torrents) {
        for (const [code, count] of Object.entries(torrent.market?.vouchers.refused ?? {})) set({ info_hash: torrent.infoHash, name: torrent.name, code }, count)
      }
    })
    this.gauge('bidtorrent_market_clearing_rate_btt_per_mib', 'As seller: the lowest rate a paid slot pays now, BTT per MiB (0: no paid slot)', TORRENT, (set) => {
      for (const torrent of snapshot.torrents) set({ info_hash: torrent.infoHash, name: torrent.name }, btt(clearingRate(snapshot.peers.get(torrent.infoHash) ?? [])))
    })
    this.counter('bidtorrent_market_earned_btt_total', 'Earned from stored vouchers (the best per channel), BTT', ['info_hash'], (set) => {
      for (const torrent of snapshot.earnings?.torrents ?? []) set({ info_hash: torrent.infoHash }, btt(torrent.total))
    })
    this.counter('bidtorrent_market_spent_btt_total', 'Paid: what sellers confirmed holding, BTT', ['info_hash'], (set) => {
      for (const torrent of snapshot.spending?.torrents ?? []) set({ info_hash: torrent.infoHash }, btt(torrent.total))
    })
    this.counter('bidtorrent_peer_problems_total', 'What peers did wrong (wire errors, refused vouchers, bans), by the log line it wrote, this run', ['problem'], (set) => {
      for (const [problem, count] of this.sources.peerProblems()) set({ problem }, count)
    })
    const checks = this.sources.hashChecks()
    this.counter('bidtorrent_hash_checks_total', 'Pieces hash-checked on the hash threads, this run', [], (set) => set({}, checks.pieces))
    this.counter('bidtorrent_hash_check_seconds_total', 'Time from asking for a piece\'s hash check to its answer, summed, this run', [], (set) => set({}, checks.seconds))
    const { settlement } = snapshot
    // Registered only with a chain: a metric with no labels shows 0 even when never set.
    if (settlement) {
      this.gauge('bidtorrent_settlement_pending_claims', 'Claims on chain decided or sent and not yet final', [], (set) => set({}, settlement.pendingClaims))
      this.counter('bidtorrent_settlement_chain_errors_total', 'Chain calls that failed (a dead or slow endpoint), this run', [], (set) => set({}, settlement.chainErrors))
    }
    this.processMetrics()
    this.gauge('bidtorrent_faults', 'Errors that reached the last-resort handlers (each is a bug)', ['kind'], (set) => {
      if (!snapshot.faults) return
      set({ kind: 'uncaught_exception' }, snapshot.faults.uncaughtExceptions)
      set({ kind: 'unhandled_rejection' }, snapshot.faults.unhandledRejections)
    })
  }

  private processMetrics (): void {
    const memory = process.memoryUsage()
    const cpu = process.cpuUsage()
    this.gauge('bidtorrent_process_resident_memory_bytes', 'Resident memory of the daemon', [], (set) => set({}, memory.rss))
    this.gauge('bidtorrent_process_heap_used_bytes', 'JavaScript heap in use', [], (set) => set({}, memory.heapUsed))
    this.counter('bidtorrent_process_cpu_seconds_total', 'CPU time of the daemon, user and system', ['mode'], (set) => {
      set({ mode: 'user' }, cpu.user / 1e6)
      set({ mode: 'system' }, cpu.system / 1e6)
    })
    this.gauge('bidtorrent_process_event_loop_delay_p99_seconds', 'Event loop delay since the last scrape, 99th percentile', [], (set) => set({}, this.eventLoopDelay.percentile(99) / 1e9))
    this.gauge('bidtorrent_process_event_loop_delay_max_seconds', 'Event loop delay since the last scrape, the longest', [], (set) => set({}, this.eventLoopDelay.max / 1e9))
    this.eventLoopDelay.reset()
  }

  private gauge (name: string, help: string, labelNames: readonly string[], fill: (set: (labels: Labels, value: number) => void) => void): void {
    this.refill(name, () => new Gauge({ name, help, labelNames, registers: [this.registry] }), fill)
  }

  private counter (name: string, help: string, labelNames: readonly string[], fill: (set: (labels: Labels, value: number) => void) => void): void {
    this.refill(name, () => new Counter({ name, help, labelNames, registers: [this.registry] }), fill)
  }

  private refill (name: string, create: () => Metric, fill: (set: (labels: Labels, value: number) => void) => void): void {
    const metric = (this.registry.getSingleMetric(name) as Metric | undefined) ?? create()
    metric.reset()
    fill((labels, value) => setTo(metric, labels, value))
  }
}

/** What the auction clears at: the lowest rate charged among the paid slots (0n when none is paid). */
function clearingRate (peers: readonly PeerInfo[]): bigint {
  let lowest: bigint | undefined
  for (const peer of peers) {
    if (peer.slot !== 'paid' || !peer.market) continue
    const rate = BigInt(peer.market.rateToThem)
    if (rate > 0n && (lowest === undefined || rate < lowest)) lowest = rate
  }
  return lowest ?? 0n
}

/** Counters only add: one set from the books is a reset (done before) and one add. */
function setTo (metric: Metric, labels: Labels, value: number): void {
  if (metric instanceof Gauge) metric.set(labels, value)
  else metric.inc(labels, value)
}
