import type { NetworkLog } from '../util/network-log.js'
import type { DebtThresholds } from '../accounting/ledger.js'
import type { MarketSettings } from '../choker/types.js'
import type { RedemptionRecord } from '../settlement/records.js'
import type { Settlement } from '../settlement/settlement.js'
import type { VoucherStore } from '../settlement/voucher-store.js'
import type { PriceOracle } from './price-oracle.js'
import type { Quote } from '../money/price.js'

// The engine's side of the market (src/engine/market-port.ts) is part of the market's vocabulary.
export type { BlockCharge, Contribution, MarketHooks, PeerMarketView, TorrentObservation } from '../engine/market-port.js'

/** Who we are in the market: the wallet that signs and the chain its vouchers are for. */
export interface MarketIdentity {
  /** TRON base58 address. */
  readonly wallet: string
  readonly privateKey: string
  readonly chainId: number
}

export interface MarketConfig {
  readonly identity: MarketIdentity
  readonly settlement: Settlement
  readonly store: VoucherStore
  readonly auction: Omit<MarketSettings, 'floor'>
  /** The daemon's floor for torrents that set none (0: they sell nothing). */
  readonly defaultFloor: Quote
  readonly thresholds: DebtThresholds
  /** Where lines a peer can cause go, rate-limited (shared with the engine). */
  readonly networkLog: NetworkLog
  /** A verified voucher was stored: settlement redeems it in its next round. */
  readonly onVoucherStored: () => void
  /** Share of the remaining budget auto-bid may commit (the whitepaper's spending rate, 0 to 1). */
  readonly autoBidSpendingRate: number
  /** On a backend that locks funds: how much a channel to one seller is funded with at a time. */
  readonly channelDeposit: bigint
  /** The BTT price, for bids and floors quoted in USD. */
  readonly prices?: PriceOracle | undefined
  /** Redeems every stored voucher now, whatever its size (`bidtorrent settle`), and says what is redeemed. */
  readonly settleNow: () => Promise<{ redemptions: RedemptionRecord[], error?: string }>
}

/** A torrent's payments as buyer, across its channels and runs, base units. */
export interface PaymentTotals {
  /** What the budget counts: the most signed on each channel. */
  readonly committed: bigint
  /** Our latest voucher on each channel. */
  readonly signed: bigint
  /** What the sellers confirmed holding (their receipts). */
  readonly accepted: bigint
}

export const NO_PAYMENTS: PaymentTotals = { committed: 0n, signed: 0n, accepted: 0n }

/** What auto-bid is doing, for the user. */
export interface AutoBidView {
  /** Base units per MiB. */
  readonly bid: string
  /** Bytes per second the user asked for (0: none). */
  readonly target: number
  readonly reason: string
  readonly since: string | null
}

/** What a torrent's user asked for: a bid and budget to buy, a floor to sell. */
export interface TorrentMarketOptions {
  /**
   * Base units per MiB; 0 = no bid (the daemon never spends without one). A bid quoted in USD is
   * turned into BTT at the market price once per channel, when first bid there, and kept for that
   * channel (a price swing changes nothing agreed).
   */
  bid: Quote
  /** The user asked for `--bid auto`: auto-bid.ts sets the bid, paying only while it helps. */
  auto: boolean
  /** With auto: the download rate the user wants, bytes per second (0: as fast as the budget allows). */
  autoTarget: number
  /** The most this torrent may spend, base units. */
  budget: bigint
  /** Our floor when selling (one in USD is turned into BTT when a bid is judged); undefined = the daemon's default. */
  floor: Quote | undefined
}

/** What a bid to one seller is doing now, for the user (`info`, `wait`, the API). */
export type BidState =
  /** It holds a paid slot at `rate`. */
  | 'winning'
  /** Ranked, but below the paid slots. */
  | 'outbid'
  /** Sent; the seller has not ranked it yet (it may not need our data, or not have unchoked anyone). */
  | 'pending'
  /** Our bid is under the seller's floor: nothing is sent. */
  | 'below-floor'
  /** The seller refused our bid or our vouchers (`reason` says why). */
  | 'refused'
  /** On a chain: the channel has no deposit yet (funding, or waiting to try again). */
  | 'unfunded'
  /** The seller's credit cap or the channel's deposit is used up. */
  | 'limit-reached'
  /** The torrent's budget cannot pay for more. */
  | 'budget-spent'
  /** No bid (none set, or withdrawn). */
  | 'not-bidding'

/** Our bid to one seller, and what we paid it, for the user. */
export interface SellerBidView {
  readonly address: string
  readonly wallet: string
  readonly state: BidState
  readonly reason: string | null
  /** What we bid it, base units per MiB. */
  readonly bid: string
  /** What its blocks cost now (0 unless winning). */
  readonly rate: string
  readonly rank: number
  readonly paidSlots: number
  /** What it confirmed holding from us (its receipts): paid. */
  readonly paid: string
  /** Signed by us and not (yet) confirmed by the seller: never counted as paid. */
  readonly signedNotAccepted: string
  /** What we owe it for verified bytes, all told. */
  readonly owed: string
  /** The most it accepts on our channel (its credit cap, or the deposit it read), once it said. */
  readonly limit: string | null
}

/** A warning for the user from the market (a bid that stopped working, a limit reached). */
export interface MarketNotice {
  readonly at: string
  readonly message: string
}

/**
 * What this run traded with one wallet on this torrent, from the meters themselves (not from
 * vouchers): bytes verified from it and what they cost, bytes sent to it and what we charged.
 * Compared with the vouchers, this is how the demo and the benchmark measure the payment error.
 */
export interface TradeTotals {
  readonly wallet: string
  readonly boughtBytes: number
  /** floor(Σ verified bytes × rate / MiB): exactly what our vouchers must add up to. */
  readonly owedToThem: string
  readonly soldBytes: number
  /** floor(Σ sent bytes × quoted rate / MiB). */
  readonly chargedToThem: string
}
