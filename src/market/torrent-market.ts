import type { Logger } from 'winston'
import { EMPTY_LEDGER, totalCharged, totalOwed, type PeerLedger } from '../accounting/ledger.js'
import type { ChokeDecision, MarketSettings, PeerMarketSnapshot, SlotKind } from '../choker/types.js'
import type Wire from 'bittorrent-protocol'
import type { MarketPort } from '../engine/market-port.js'
import { PROTOCOL_VERSION, type MarketHandshake, type MarketMessage } from './codec.js'
import { CounterpartyBook, connectionTo, newConnection, type Connection, type MarketContext } from './counterparties.js'
import { MarketExtension, marketExtension } from './extension.js'
import { MarketBuyer } from './market-buyer.js'
import { MarketSeller } from './market-seller.js'
import type { AutoBidView, BlockCharge, Contribution, MarketConfig, MarketHooks, MarketNotice, PaymentTotals, PeerMarketView, SellerBidView, TorrentMarketOptions, TorrentObservation, TradeTotals } from './market-types.js'
import type { Quote } from '../money/price.js'
import { emptyVoucherTally, type VoucherTally } from './voucher-tally.js'

export type { AutoBidView, BlockCharge, Contribution, MarketConfig, MarketHooks, MarketIdentity, MarketNotice, PaymentTotals, PeerMarketView, SellerBidView, TorrentMarketOptions, TorrentObservation, TradeTotals } from './market-types.js'
export type { VoucherTally } from './voucher-tally.js'

/** The warnings kept for the user per torrent (the newest; older ones stay in the log). */
const NOTICES_KEPT = 20

/**
 * The bandwidth market for one torrent, between the engine (which calls the hooks below) and the
 * wire extension. It keeps the connections and the counterparties (one per remote wallet, which
 * outlive connections), and hands each message to the side it concerns: the seller
 * (market-seller.ts) or the buyer (market-buyer.ts). The engine stays in charge of sockets and
 * pieces; the market decides who is owed what, and pays or gets paid.
 */
export class TorrentMarket implements MarketPort {
  /** By the peer's address, the engine's key for a connection. */
  private readonly connections = new Map<string, Connection>()
  private readonly context: MarketContext
  private readonly seller: MarketSeller
  private readonly buyer: MarketBuyer
  private readonly noticeList: MarketNotice[] = []

  constructor (
    private readonly infoHash: string,
    private readonly config: MarketConfig,
    readonly options: TorrentMarketOptions,
    /** What the stored vouchers and receipts say of earlier runs: the budget and the books hold across restarts. */
    paymentsBefore: PaymentTotals,
    hooks: MarketHooks,
    private readonly log: Logger
  ) {
    this.context = {
      infoHash, config, hooks, log,
      book: new CounterpartyBook(infoHash, config, log),
      trades: new Map<string, PeerLedger>(),
      vouchers: emptyVoucherTally(),
      notify: (message, fields) => this.notify(message, fields)
    }
    this.seller = new MarketSeller(this.context, options)
    this.buyer = new MarketBuyer(this.context, options, paymentsBefore, () => this.connections.values())
  }

  get floor (): bigint {
    return this.seller.floor
  }

  /** Whether this torrent sells upload slots (it has a floor above zero). */
  get selling (): boolean {
    return this.seller.selling
  }

  /** What the budget counts (the most signed on each channel), what we signed, and what sellers confirmed: across runs. */
  get payments (): PaymentTotals {
    return this.buyer.payments
  }

  /** This run's voucher counts, as buyer and as seller. */
  get vouchers (): Readonly<VoucherTally> {
    return this.context.vouchers
  }

  /** Warnings for the user, oldest first. */
  notices (): readonly MarketNotice[] {
    return this.noticeList
  }

  private notify (message: string, fields: Record<string, unknown> = {}): void {
    const last = this.noticeList.at(-1)
    // The same warning again (every seller, every second) is one line for the user and one in the log.
    if (last?.message === message) return
    this.log.warn(message, { infoHash: this.infoHash, ...fields })
    this.noticeList.push({ at: new Date().toISOString(), message })
    if (this.noticeList.length > NOTICES_KEPT) this.noticeList.shift()
  }

  private localHandshake (): MarketHandshake {
    const floor = this.floor
    return { version: PROTOCOL_VERSION, wallet: this.config.identity.wallet, chainId: this.config.identity.chainId, backends: [this.config.settlement.backend], ...(floor > 0n ? { floor } : {}) }
  }

  // ---------------------------------------------------------------- engine hooks

  prepareWire (wire: Wire): void {
    wire.use(marketExtension(() => this.localHandshake(), () => {}))
  }

  attach (address: string, wire: Wire): void {
    const extension = (wire as unknown as Record<string, unknown>).bt_bid
    if (!(extension instanceof MarketExtension)) return
    const connection = newConnection(extension)
    this.connections.set(address, connection)
    extension.on('handshake', (remote) => this.onHandshake(connection, remote))
    extension.on('message', (message) => this.onMessage(address, connection, message))
    extension.on('malformed', (error) => this.config.networkLog.warn(address, 'dropped a malformed market message', { infoHash: this.infoHash, error }))
    if (extension.remote) this.onHandshake(connection, extension.remote)
  }

  detach (address: string): void {
    const connection = this.connections.get(address)
    this.connections.delete(address)
    const counterparty = connection?.counterparty
    if (!counterparty) return
    counterparty.connections.delete(connection)
    // Vouchers sent on the connection that ended may never have arrived: the latest goes again on
    // one still open to the same wallet (an exact repeat only earns a receipt).
    const remaining = connectionTo(counterparty)
    if (remaining) this.buyer.connected(remaining, counterparty)
    this.context.book.forgetIfSettled(counterparty)
  }

  /** A new floor (in BTT or USD; undefined = the daemon's): every connected peer hears it at once. */
  setFloor (floor: Quote | undefined): void {
    this.options.floor = floor
    const local = this.localHandshake()
    for (const connection of this.connections.values()) connection.extension.announce(local)
    this.context.hooks.requestRechoke()
  }

  /** The choker's view of a peer as a bidder; undefined for peers without the extension. */
  snapshot (address: string, slot: SlotKind | undefined): PeerMarketSnapshot | undefined {
    const connection = this.connections.get(address)
    if (!connection?.remote) return undefined
    return {
      bid: connection.bid?.price ?? 0n,
      funded: connection.bid !== undefined,
      selfTrade: connection.remote.wallet === this.config.identity.wallet,
      cutOff: this.seller.cutOff(connection),
      paidSlot: slot === 'paid'
    }
  }

  /** The auction's settings while we have data to sell. */
  auction (): MarketSettings {
    return { ...this.config.auction, floor: this.floor }
  }

  /** The rate a paid slot pays (its place in the paid bandwidth: highest first). */
  paidRate (address: string): bigint {
    return this.connections.get(address)?.quote?.rate ?? 0n
  }

  /** See MarketSeller.applyQuotes: called before the engine applies a choke decision. */
  applyQuotes (decision: ChokeDecision): void {
    this.seller.applyQuotes(this.connections, decision)
  }

  /** What a block arriving from `peer` now costs, and whom it is owed to; undefined when it is free. */
  chargeFor (address: string): BlockCharge | undefined {
    return this.connections.get(address)?.charge
  }

  /** A block left for `peer`. */
  sent (address: string, bytes: number): void {
    const connection = this.connections.get(address)
    if (connection) this.seller.sent(connection, bytes)
  }

  /** A piece passed its hash check: its senders are owed for their bytes, and paid. */
  verified (contributions: readonly Contribution[]): void {
    this.buyer.verified(contributions)
  }

  view (address: string): PeerMarketView {
    const connection = this.connections.get(address)
    const counterparty = connection?.counterparty
    const ledger = counterparty?.ledger ?? EMPTY_LEDGER
    const accepted = counterparty?.accepted.amount ?? 0n
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
      paidToThem: accepted.toString(),
      signedNotAcceptedToThem: (ledger.paid > accepted ? ledger.paid - accepted : 0n).toString()
    }
  }

  /** Our bid to each connected seller: its state, rate, and what we paid it. */
  sellers (): SellerBidView[] {
    return this.buyer.sellers(this.connections)
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

  /** Whether auto-bid wants to see the torrent (`--bid auto`). */
  get autoBidding (): boolean {
    return this.options.auto
  }

  autoBid (observed: TorrentObservation): void {
    this.buyer.autoBid(observed)
  }

  get autoBidView (): AutoBidView | null {
    return this.buyer.autoBidView
  }

  /** Once a second, with what the blocks in flight will cost per seller: the budget and the sellers' limits. */
  guard (inFlight: ReadonlyMap<string, bigint>): void {
    this.buyer.guard(inFlight)
  }

  setBid (price: Quote): void {
    this.buyer.setBid(price)
  }

  /** The most this torrent may spend from now on, base units (the daemon checks it against what is committed). */
  setBudget (budget: bigint): void {
    this.options.budget = budget
  }

  /** `--bid auto` on or off, and the download rate it aims at (unchanged when not given). */
  setAuto (auto: boolean, target?: number): void {
    this.options.auto = auto
    if (target !== undefined) this.options.autoTarget = target
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

  private onMessage (address: string, connection: Connection, message: MarketMessage): void {
    switch (message.type) {
      case 'bid': return this.seller.onBid(connection, message)
      case 'bid-response': return this.buyer.quoted(connection, message)
      case 'receipt': return this.buyer.receipt(connection, message)
      case 'payment-request':
        this.log.debug('payment requested', { infoHash: this.infoHash, peer: address, owed: message.owed.toString() })
        return
      case 'voucher': return this.seller.receive(address, connection, message)
      case 'reject':
        if (message.about === 'voucher') this.context.vouchers.refusedBySeller++
        this.config.networkLog.info(address, 'the peer refused a market message', { infoHash: this.infoHash, code: message.code, about: message.about, reason: message.reason })
        return this.buyer.refused(connection, message)
    }
  }
}
