import type Wire from 'bittorrent-protocol'
import type { ChokeDecision, MarketSettings, PeerMarketSnapshot, SlotKind } from '../choker/types.js'

/**
 * The engine's side of the bandwidth market: what a torrent asks of a market and tells it, keyed
 * by the peer's address (the engine's key for a connection). The engine defines it and the market
 * implements it (as libtorrent's torrent_plugin / peer_plugin, anacrolix/torrent's Callbacks), so
 * the engine never depends on the market, and the market sees no engine object: only addresses,
 * the wire it extends, and the plain data below.
 */
export interface MarketPort {
  /** Whether this torrent sells upload slots now (it has a floor above zero). */
  readonly selling: boolean
  /** Whether the market wants to see the torrent once a second (`--bid auto`). */
  readonly autoBidding: boolean
  /** Installs the market's wire extension; runs before our handshake is sent. */
  prepareWire (wire: Wire): void
  /** Both handshakes are done: the connection at `address` joins the market. */
  attach (address: string, wire: Wire): void
  detach (address: string): void
  /** The choker's view of a peer as a bidder; undefined for peers without the extension. */
  snapshot (address: string, slot: SlotKind | undefined): PeerMarketSnapshot | undefined
  /** The auction's settings while we have data to sell. */
  auction (): MarketSettings
  /** The rate a paid slot pays (its place in the paid bandwidth: highest first). */
  paidRate (address: string): bigint
  /** Called before the engine applies a choke decision: rates and ranks go out first. */
  applyQuotes (decision: ChokeDecision): void
  /** What a block arriving from the peer now costs, and whom it is owed to; undefined when free. */
  chargeFor (address: string): BlockCharge | undefined
  /** A block of `bytes` left for the peer. */
  sent (address: string, bytes: number): void
  /** A piece passed its hash check: its senders are owed for their bytes. */
  verified (contributions: readonly Contribution[]): void
  /** Once a second while downloading, with auto-bid on. */
  autoBid (observed: TorrentObservation): void
  /** Once a second while downloading: what the blocks in flight will cost per payee. */
  guard (inFlight: ReadonlyMap<string, bigint>): void
  /** One peer's market figures, for the user. */
  view (address: string): PeerMarketView
}

/** What the market may ask of the torrent it trades for. */
export interface MarketHooks {
  /** Re-runs the choker soon (a bid or a debt changed who should hold a slot). */
  readonly requestRechoke: () => void
  /** The torrent's verified pieces now, stored with each voucher (see PaidPiecesRecord). */
  readonly verifiedPieces: () => Uint8Array | undefined
}

/** Who is paid for a block: the sender's wallet, at the rate it charged when the block arrived. */
export interface BlockCharge {
  readonly payee: string
  readonly rate: bigint
}

/** Bytes of one verified piece owed to one wallet at one rate. */
export interface Contribution {
  readonly charge: BlockCharge
  readonly bytes: number
}

/** What auto-bid sees of its torrent once a second (see market/auto-bid.ts). */
export interface TorrentObservation {
  readonly bytesLeft: number
  /** Bytes per second: all of it, from paid slots, and from seeds. */
  readonly downloadRate: number
  readonly paidRate: number
  readonly seedRate: number
  /** Of the pieces still missing, the share that only seeds among our peers have. */
  readonly onlyFromSeeds: number
}

/** One peer's market figures, for `bidtorrent peers`. */
export interface PeerMarketView {
  readonly speaksMarket: boolean
  readonly wallet: string | null
  /** What the peer bids us (we sell), base units per MiB. */
  readonly theirBid: string
  /** Rank and rate we quoted the peer. */
  readonly rank: number
  readonly rateToThem: string
  /** The rate the peer charges us (we buy). */
  readonly rateFromThem: string
  /** Cumulative amounts on the channels with this wallet (across connections and runs), base units. */
  readonly owedByThem: string
  readonly receivedFromThem: string
  readonly owedToThem: string
  /** What the peer confirmed holding from us (its receipts). */
  readonly paidToThem: string
  /** Signed by us, not confirmed by the peer. */
  readonly signedNotAcceptedToThem: string
}
