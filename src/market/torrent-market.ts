import type { Logger } from 'winston'
import { EMPTY_LEDGER, totalCharged, totalOwed, type PeerLedger } from '../accounting/ledger.js'
import type { ChokeDecision, MarketSettings, PeerMarketSnapshot } from '../choker/types.js'
import type { Peer } from '../engine/peer.js'
import { PROTOCOL_VERSION, type MarketHandshake, type MarketMessage } from './codec.js'
import { CounterpartyBook, newConnection, type Connection, type MarketContext } from './counterparties.js'
import { MarketExtension, marketExtension } from './extension.js'
import { MarketBuyer } from './market-buyer.js'
import { MarketSeller } from './market-seller.js'
import type { BlockCharge, Contribution, MarketConfig, MarketHooks, PeerMarketView, TorrentMarketOptions, TradeTotals } from './market-types.js'
import type { Quote } from './price.js'

export type { BlockCharge, Contribution, MarketConfig, MarketHooks, MarketIdentity, PeerMarketView, TorrentMarketOptions, TradeTotals } from './market-types.js'

/**
 * The bandwidth market for one torrent, between the engine (which calls the hooks below) and the
 * wire extension. It keeps the connections and the counterparties (one per remote wallet, which
 * outlive connections), and hands each message to the side it concerns: the seller
 * (market-seller.ts) or the buyer (market-buyer.ts). The engine stays in charge of sockets and
 * pieces; the market decides who is owed what, and pays or gets paid.
 */
export class TorrentMarket {
  private readonly connections = new Map<Peer, Connection>()
  private readonly context: MarketContext
  private readonly seller: MarketSeller
  private readonly buyer: MarketBuyer

  constructor (
    private readonly infoHash: string,
    private readonly config: MarketConfig,
    readonly options: TorrentMarketOptions,
    /** What the stored vouchers say this torrent spent in earlier runs: the budget holds across restarts. */
    spentBefore: bigint,
    hooks: MarketHooks,
    private readonly log: Logger
  ) {
    this.context = { infoHash, config, hooks, log, book: new CounterpartyBook(infoHash, config, log), trades: new Map<string, PeerLedger>() }
    this.seller = new MarketSeller(this.context, options)
    this.buyer = new MarketBuyer(this.context, options, spentBefore, () => this.connections.values())
  }

  get floor (): bigint {
    return this.seller.floor
  }

  get totalSpent (): bigint {
    return this.buyer.totalSpent
  }

  private localHandshake (): MarketHandshake {
    return { version: PROTOCOL_VERSION, wallet: this.config.identity.wallet, chainId: this.config.identity.chainId, backends: [this.config.settlement.backend], floor: this.floor }
  }

  // ---------------------------------------------------------------- engine hooks

  prepareWire (wire: Peer['wire']): void {
    wire.use(marketExtension(() => this.localHandshake(), () => {}))
  }

  attach (peer: Peer): void {
    const extension = (peer.wire as unknown as Record<string, unknown>).bt_bid
    if (!(extension instanceof MarketExtension)) return
    const connection = newConnection(extension)
    this.connections.set(peer, connection)
    extension.on('handshake', (remote) => this.onHandshake(connection, remote))
    extension.on('message', (message) => this.onMessage(peer, connection, message))
    extension.on('malformed', (error) => this.log.warn('dropped a malformed market message', { infoHash: this.infoHash, peer: peer.address, error }))
    if (extension.remote) this.onHandshake(connection, extension.remote)
  }

  detach (peer: Peer): void {
    const connection = this.connections.get(peer)
    this.connections.delete(peer)
    const counterparty = connection?.counterparty
    if (!counterparty) return
    counterparty.connections.delete(connection)
    this.context.book.forgetIfSettled(counterparty)
  }

  /** The choker's view of a peer as a bidder; undefined for peers without the extension. */
  snapshot (peer: Peer): PeerMarketSnapshot | undefined {
    const connection = this.connections.get(peer)
    if (!connection?.remote) return undefined
    return {
      bid: connection.bid?.price ?? 0n,
      funded: connection.bid !== undefined,
      selfTrade: connection.remote.wallet === this.config.identity.wallet,
      cutOff: this.seller.cutOff(connection),
      paidSlot: peer.slotKind === 'paid'
    }
  }

  /** The auction's settings while we have data to sell. */
  auction (): MarketSettings {
    return { ...this.config.auction, floor: this.floor }
  }

  /** See MarketSeller.applyQuotes: called before the engine applies a choke decision. */
  applyQuotes (decision: ChokeDecision): void {
    this.seller.applyQuotes(this.connections, decision)
  }

  /** What a block arriving from `peer` now costs, and whom it is owed to; undefined when it is free. */
  chargeFor (peer: Peer): BlockCharge | undefined {
    return this.connections.get(peer)?.charge
  }

  /** A block left for `peer`. */
  sent (peer: Peer, bytes: number): void {
    const connection = this.connections.get(peer)
    if (connection) this.seller.sent(connection, bytes)
  }

  /** A piece passed its hash check: its senders are owed for their bytes, and paid. */
  verified (contributions: readonly Contribution[]): void {
    this.buyer.verified(contributions)
  }

  view (peer: Peer): PeerMarketView {
    const connection = this.connections.get(peer)
    const ledger = connection?.counterparty?.ledger ?? EMPTY_LEDGER
    return {
      speaksMarket: connection?.remote !== undefined,
      wallet: connection?.remote?.wallet ?? null,
      theirBid: (connection?.bid?.price ?? 0n).toString(),
      rank: connection?.quote?.rank ?? 0,
      rateToThem: (connection?.quote?.rate ?? 0n).toString(),
      rateFromThem: (connection?.charge?.rate ?? 0n).toString(),
      owedByThem: totalCharged(ledger).toString(),
      receivedFromThem: ledger.received.toString(),
      owedToThem: totalOwed(ledger).toString(),
      paidToThem: ledger.paid.toString()
    }
  }

  /** This run's metered trade with each wallet. */
  tradeTotals (): TradeTotals[] {
    return [...this.context.trades].map(([wallet, ledger]) => ({
      wallet,
      boughtBytes: ledger.boughtBytes,
      owedToThem: totalOwed(ledger).toString(),
      soldBytes: ledger.soldBytes,
      chargedToThem: totalCharged(ledger).toString()
    }))
  }

  autoBid (bytesLeft: number): void {
    this.buyer.autoBid(bytesLeft)
  }

  guardBudget (inFlightByteRate: bigint): void {
    this.buyer.guardBudget(inFlightByteRate)
  }

  setBid (price: Quote): void {
    this.buyer.setBid(price)
  }

  // ---------------------------------------------------------------- messages

  private onHandshake (connection: Connection, remote: MarketHandshake): void {
    connection.remote = remote
    if (!connection.counterparty) {
      const counterparty = this.context.book.of(remote.wallet)
      connection.counterparty = counterparty
      counterparty.connections.add(connection)
      this.buyer.connected(connection, counterparty)
    }
    this.buyer.maybeBid(connection)
  }

  private onMessage (peer: Peer, connection: Connection, message: MarketMessage): void {
    switch (message.type) {
      case 'bid': return this.seller.onBid(connection, message)
      case 'bid-response': return this.buyer.quoted(connection, message)
      case 'payment-request':
        this.log.debug('payment requested', { infoHash: this.infoHash, peer: peer.address, owed: message.owed.toString() })
        return
      case 'voucher': return this.seller.receive(peer, connection, message)
      case 'reject':
        this.log.info('the peer refused a market message', { infoHash: this.infoHash, peer: peer.address, code: message.code, about: message.about, reason: message.reason })
        if (message.about === 'bid') connection.bidRefused = true
    }
  }
}
