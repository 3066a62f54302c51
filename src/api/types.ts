/**
 * The control API's public types: what the daemon answers, as JSON. The CLI, the demo and the
 * tests take them from here, never from the daemon, the engine or the market (the daemon, below
 * this layer, defines the ones it builds in daemon/api-types.ts).
 */
export type {
  ApiEndpoint, ChannelClosed, ChannelTotal, DaemonEvent, DaemonStatus, EventsPage, RemovedTorrent, SeedLimitsView, SettleResult, SwarmHealthView, TorrentDetails, TorrentFile, TorrentEventView, TorrentMarketView, TorrentView, VoucherTotals, Withdrawal
} from '../daemon/api-types.js'
export type { AddBody, BidBody, FilesBody, FloorBody, LimitsBody, LocationBody, OpenChannelBody, OptionsBody, SeedBody, TopUpBody, WithdrawBody } from '../daemon/api-schemas.js'
export type { PeerInfo, TorrentStatus } from '../engine/torrent.js'
export type { CreationProgress } from '../engine/create.js'
export type { AutoBidView, MarketNotice, PeerMarketView, SellerBidView, TradeTotals, VoucherTally } from '../market/torrent-market.js'
export type { ChannelView, WalletBalance } from '../settlement/chain-wallet.js'
export type { RedemptionRecord } from '../settlement/records.js'

