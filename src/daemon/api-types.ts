import type { DerivedAmount } from '../config/money.js'
import type { PeerInfo, TorrentEvent, TorrentStatus } from '../engine/torrent.js'
import type { AutoBidView, MarketNotice, SellerBidView, TradeTotals, VoucherTally } from '../market/torrent-market.js'
import type { ChannelView } from '../settlement/chain-wallet.js'
import type { FaultCounts } from './faults.js'
import type { RedemptionRecord } from '../settlement/records.js'
import type { SeedLimitAction, SeedLimitChoice } from './seed-limits.js'

/**
 * What the control API answers, as JSON (bigints as decimal strings). The daemon builds these;
 * clients import them through src/api/ (api/types.ts), never from here.
 */

/** The file in the data directory where a client finds the daemon's API. */
export const API_FILE = 'api.json'

/** The token alone, for tools that read a bearer token from a file (Prometheus's credentials_file). */
export const API_TOKEN_FILE = 'api.token'

/** Where a CLI finds the daemon: written mode 0600, since the token is the only key to the API. */
export interface ApiEndpoint {
  readonly url: string
  readonly token: string
  readonly pid: number
}

/** A torrent's market settings and what it has paid, amounts in base units as decimal strings. */
export interface TorrentMarketView {
  readonly bid: string
  readonly budget: string
  /** The floor in force now (0: this torrent sells nothing). */
  readonly floor: string
  /** What sellers confirmed holding from us (their receipts), across runs: paid. */
  readonly paid: string
  /** Signed and not (yet) confirmed by the seller; never counted as paid. */
  readonly signedNotAccepted: string
  /** What the budget counts: the most signed on each channel. */
  readonly committed: string
  /** With `--bid auto`: its bid, target and reasoning. */
  readonly autoBid: AutoBidView | null
  /** Our bid to each connected seller: its state, rate, and what we paid it. */
  readonly sellers: readonly SellerBidView[]
  /** Warnings for the user (a bid that stopped working, a limit reached), oldest first. */
  readonly notices: readonly MarketNotice[]
  /** This run's metered trade per wallet (see TradeTotals). */
  readonly trades: readonly TradeTotals[]
  /** This run's voucher counts, as buyer and as seller (see VoucherTally). */
  readonly vouchers: Readonly<VoucherTally>
}

/** One channel in earnings or spending. */
export interface ChannelTotal {
  readonly wallet: string
  /** Paid: in earnings the best voucher stored; in spending what the seller confirmed holding. */
  readonly amount: string
  /** The number of vouchers (the nonce of the one that counts). */
  readonly vouchers: number
  readonly channel: string
  /** Spending only: our latest voucher, and what of it the seller has not confirmed. */
  readonly signed?: string
  readonly signedNotAccepted?: string
}

/** Earnings or spending from the stored vouchers (and, for spending, the sellers' receipts): per torrent, and per peer within it. */
export interface VoucherTotals {
  readonly total: string
  /** Spending only: signed and not confirmed, never counted in `total`. */
  readonly signedNotAccepted?: string
  readonly torrents: ReadonlyArray<{ readonly infoHash: string, readonly total: string, readonly peers: readonly ChannelTotal[] }>
}

/** A torrent's seed limits: its own settings, the limits in force, and whether one stopped it. */
export interface SeedLimitsView {
  /** The torrent's settings: `global` follows the daemon's (seedRatioLimit, seedIdleLimit). */
  readonly ratio: SeedLimitChoice
  /** In seconds when a number. */
  readonly idle: SeedLimitChoice
  /** In force now, its own or the daemon's; null: none. */
  readonly ratioLimit: number | null
  readonly idleLimitSeconds: number | null
  readonly action: SeedLimitAction
  /** Bytes uploaded in all its runs (since it was added). */
  readonly uploadedEver: number
  /** `uploadedEver` over the size of the chosen files. */
  readonly ratioNow: number
  /** Why the daemon stopped it ("seed ratio 2.00 reached"); null once started again. */
  readonly stoppedBy: string | null
}

export interface TorrentView extends TorrentStatus {
  readonly magnet: string
  readonly market: TorrentMarketView | null
  readonly labels: readonly string[]
  readonly seedLimits: SeedLimitsView
}

/** `GET /v1/torrents/:id/health`: see swarm-health.ts. */
export interface SwarmHealthView {
  readonly infoHash: string
  readonly name: string
  readonly state: TorrentView['state']
  readonly seeds: number
  readonly peers: number
  /** Peers known from trackers, the DHT and PEX, connected or not. */
  readonly knownPeers: number
  /** Over the connected peers and ourselves (see SwarmCopies); null before the metadata. */
  readonly distributedCopies: number | null
  readonly rarestPieceCopies: number | null
  /** Full copies made while we watched, this run (peers completing while connected, and ours). */
  readonly completions: number
  readonly completionsLastHour: number
  /** From the torrent's start in this run to the first of them. */
  readonly firstFullCopySeconds: number | null
  readonly downloadedFromPeers: number
  readonly downloadedFromWebSeeds: number
  /** The share of our download the swarm carried rather than the web seeds; null before any. */
  readonly offloadRatio: number | null
  /** What this daemon charged buyers this run, and per hour, base units (null: the market is off). */
  readonly earnedThisRun: string | null
  readonly earnedPerHour: string | null
}

/** `GET /v1/torrents/:id`: the torrent and its connected peers. */
export type TorrentDetails = TorrentView & { peerList: PeerInfo[] }

/** `DELETE /v1/torrents/:id`. */
export interface RemovedTorrent {
  readonly infoHash: string
  readonly deletedData: boolean
}

/** `GET /v1/torrents/:id/torrent`: the .torrent file, base64. */
export interface TorrentFile {
  readonly torrent: string
}

/**
 * `POST /v1/settle`. `redeemed` is what this call redeemed, per channel (the amount it added);
 * `redemptions` is every channel's total; `error` says why settling stopped short.
 */
export interface SettleResult {
  readonly backend: string
  readonly redeemed: Array<RedemptionRecord & { added: string }>
  readonly redemptions: RedemptionRecord[]
  readonly error?: string
}

/** `POST /v1/channels/:id/close`: what closing did now, and the channel after it. */
export interface ChannelClosed {
  readonly action: string
  readonly transaction: string
  readonly channel: ChannelView
}

/** `POST /v1/withdraw`. */
export interface Withdrawal {
  readonly transaction: string
  readonly currency: string
}

/** `GET /v1/status`. */
export interface DaemonStatus {
  readonly version: string
  readonly pid: number
  readonly dataDir: string
  readonly peerPort: number
  readonly dhtPort: number | null
  readonly peerId: string
  readonly torrents: number
  /** The market's wallet; null: the market is off. */
  readonly wallet: string | null
  readonly settlement: string | null
  readonly btt: { readonly usdPerBtt: string | null, readonly amountsInUsd: readonly DerivedAmount[] } | null
  readonly faults: FaultCounts | null
  readonly memory: NodeJS.MemoryUsage
  readonly apiPort: number
}

/** The daemon's own event for a torrent: a seed limit reached, and what it did about it. */
export interface SeedLimitEvent {
  readonly type: 'seed-limit'
  readonly limit: 'ratio' | 'idle'
  readonly action: SeedLimitAction
  readonly reason: string
}

/** What the event log records: the engine's events for a torrent, and the daemon's. */
export type LoggedEvent = TorrentEvent | SeedLimitEvent

/** A torrent event as the API sends it (src/engine/events.ts; metadata by name and size). */
export type TorrentEventView =
  | Exclude<LoggedEvent, { type: 'metadata' }>
  | { readonly type: 'metadata', readonly name: string, readonly length: number, readonly pieceCount: number }

export interface DaemonEvent {
  /** Numbered from 1 in this run of the daemon. */
  readonly seq: number
  readonly at: string
  readonly infoHash: string
  readonly event: TorrentEventView
}

/** `GET /v1/events?after=N`: the events after N, and the number to ask after next time. */
export interface EventsPage {
  readonly events: readonly DaemonEvent[]
  readonly next: number
}
