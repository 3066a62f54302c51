import type { Logger } from 'winston'
import {
  EMPTY_LEDGER, continuePaid, continueReceived, debt, recordPaid, recordReceived, recordSent, recordVerified, standing,
  thresholdsAtRate, totalCharged, totalOwed, unpaid, type DebtThresholds, type PeerLedger
} from '../accounting/ledger.js'
import type { BidQuote, ChokeDecision, MarketSettings, PeerMarketSnapshot } from '../choker/types.js'
import type { RedemptionRecord, VoucherRecord, VoucherStore } from '../daemon/store.js'
import type { Peer } from '../engine/peer.js'
import type { Settlement } from '../settlement/settlement.js'
import { errorMessage } from '../util/errors.js'
import { judgeVoucher } from './acceptance.js'
import { PROTOCOL_VERSION, type BidMessage, type MarketHandshake, type MarketMessage, type RejectCode, type VoucherMessage } from './codec.js'
import { autoBid, shouldRebid, withinBudget } from './bidding.js'
import { MarketExtension, marketExtension } from './extension.js'
import type { PriceOracle } from './price-oracle.js'
import { MAX_AMOUNT, isUsd, type Quote } from './price.js'
import { channelIdFor, signVoucher, type SignedVoucher, type VoucherDomain } from './voucher.js'

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
  readonly defaultFloor: bigint
  readonly thresholds: DebtThresholds
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

/** What a torrent's user asked for: a bid and budget to buy, a floor to sell. */
export interface TorrentMarketOptions {
  /**
   * Base units per MiB; 0 = no bid (the daemon never spends without one). A bid quoted in USD is
   * turned into BTT at the market price once per channel, when first bid there, and kept for that
   * channel (a price swing changes nothing agreed).
   */
  bid: Quote
  /** The user asked for `--bid auto`: the bid follows the budget left over the data left. */
  auto: boolean
  /** The most this torrent may spend, base units. */
  budget: bigint
  /** Our floor when selling (one in USD is turned into BTT when a bid is judged); undefined = the daemon's default. */
  floor: Quote | undefined
}

/** What the market asks of the torrent it trades for. */
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
  readonly paidToThem: string
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

/** One connection to a peer that speaks the extension: what was said on this wire. */
interface Connection {
  readonly extension: MarketExtension
  remote: MarketHandshake | undefined
  /** The channels with the peer's wallet, once its handshake named one. */
  counterparty: Counterparty | undefined
  /** As seller: the peer's standing bid, once it passed our checks. */
  bid: BidMessage | undefined
  quote: BidQuote | undefined
  lastPaymentRequest: bigint
  /** As buyer: what blocks arriving now cost (the peer's last quote); undefined while free. */
  charge: BlockCharge | undefined
  /** The price last sent to this seller; `bidRefused` once it rejected a bid (we stop bidding there). */
  bidSent: bigint
  bidRefused: boolean
}

/**
 * Everything between us and one remote wallet on this torrent: the two channels (we pay it, it pays
 * us), their ledger and voucher steps. It outlives connections: bytes a peer sent before it dropped
 * are still paid when their pieces verify, and a reconnect continues the same ledger.
 */
interface Counterparty {
  readonly wallet: string
  /** The channel ids: we pay it, it pays us. */
  readonly toThem: Uint8Array
  readonly toUs: Uint8Array
  readonly connections: Set<Connection>
  ledger: PeerLedger
  /** The latest voucher we signed on the channel to it (from the store, at first use). */
  latestSent: SignedVoucher | undefined
  /** Voucher work runs one step at a time (each step reads what the last one stored). */
  queue: Promise<void>
  steps: number
  /** A payment step is queued: pieces verified before it runs are paid by it (vouchers are cumulative). */
  payScheduled: boolean
  lastPaymentAt: number
  /** The newest voucher received and not yet looked at; an older one waiting is superseded by it. */
  pendingVoucher: { voucher: VoucherMessage, from: Connection } | undefined
  /** On a backend that locks funds: what our channel to this wallet can pay in total, once known. */
  channelFunds: bigint | undefined
  /** A USD bid turned into BTT for this channel: fixed once agreed. */
  agreedBid?: bigint | undefined
  /** A funding transaction for that channel is under way. */
  funding: boolean
  /** After a failed funding, no new try before this time (ms). */
  fundRetryAt: number
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/**
 * The least time between two vouchers to one seller. Every voucher is a synced write before it is
 * sent; one per piece (~350 a second at full speed) kept a disk thread busy syncing and slowed the
 * transfer by a quarter. A voucher covers every piece verified since the last one, so each piece is
 * still paid within this interval, exactly.
 */
const PAYMENT_INTERVAL_MS = 100

/**
 * A seller extends at least this much data on credit at the quoted rate: a bidder pays for pieces as
 * they verify (up to 4 MiB each, and a voucher per 100 ms), so less would stall every transfer
 * whose price makes the configured payment threshold worth only a few blocks.
 */
const MIN_CREDIT_BYTES = 8 * 1024 * 1024

/** How long a buyer waits before it tries again to fund a channel after a failure (no coins, no chain). */
const FUND_RETRY_MS = 30_000

/**
 * The bandwidth market for one torrent, between the engine (which calls the hooks below) and the
 * wire extension, the ledger, the voucher tables and the settlement backend. The engine stays in
 * charge of sockets and pieces; this decides who is owed what, and pays or gets paid.
 */
export class TorrentMarket {
  private readonly connections = new Map<Peer, Connection>()
  private readonly counterparties = new Map<string, Counterparty>()
  /** This run's meters per wallet, kept for the run (one small record per wallet traded with). */
  private readonly trades = new Map<string, PeerLedger>()
  private readonly domain: VoucherDomain
  /** What this torrent has signed for, across every channel and every run (cumulative). */
  private spent: bigint

  constructor (
    private readonly infoHash: string,
    private readonly config: MarketConfig,
    readonly options: TorrentMarketOptions,
    /** What the stored vouchers say this torrent spent in earlier runs: the budget holds across restarts. */
    spentBefore: bigint,
    private readonly hooks: MarketHooks,
    private readonly log: Logger
  ) {
    this.domain = config.settlement.domain
    this.spent = spentBefore
  }

  get floor (): bigint {
    const floor = this.options.floor ?? this.config.defaultFloor
    // Without a price a USD floor cannot be met: no bid is accepted until one is known.
    return isUsd(floor) ? this.config.prices?.toBtt(floor.usdPerMiB) ?? MAX_AMOUNT : floor
  }

  /** Whether this torrent bids at all (in BTT or in USD). */
  private get bidding (): boolean {
    const bid = this.options.bid
    return (isUsd(bid) ? bid.usdPerMiB : bid) > 0n
  }

  private get budgetLeft (): bigint {
    return this.options.budget > this.spent ? this.options.budget - this.spent : 0n
  }

  /**
   * The bid to one seller, in BTT: the BTT bid, or the USD bid turned into BTT when first bid on
   * that channel and fixed there from then on.
   */
  private bidFor (counterparty: Counterparty | undefined): bigint {
    const bid = this.options.bid
    if (!isUsd(bid)) return bid
    if (!counterparty) return 0n
    counterparty.agreedBid ??= this.config.prices?.toBtt(bid.usdPerMiB)
    return counterparty.agreedBid ?? 0n
  }

  get totalSpent (): bigint {
    return this.spent
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
    const connection: Connection = {
      extension,
      remote: undefined,
      counterparty: undefined,
      bid: undefined,
      quote: undefined,
      lastPaymentRequest: 0n,
      charge: undefined,
      bidSent: 0n,
      bidRefused: false
    }
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
    this.forgetIfSettled(counterparty)
  }

  /** The choker's view of a peer as a bidder; undefined for peers without the extension. */
  snapshot (peer: Peer): PeerMarketSnapshot | undefined {
    const connection = this.connections.get(peer)
    if (!connection?.remote) return undefined
    const ledger = connection.counterparty?.ledger ?? EMPTY_LEDGER
    return {
      bid: connection.bid?.price ?? 0n,
      funded: connection.bid !== undefined,
      selfTrade: connection.remote.wallet === this.config.identity.wallet,
      cutOff: standing(ledger, this.thresholdsFor(connection)) === 'cut-off',
      paidSlot: peer.slotKind === 'paid'
    }
  }

  /** The debt thresholds for a bidder at the rate we quoted it (see thresholdsAtRate). */
  private thresholdsFor (connection: Connection): DebtThresholds {
    return thresholdsAtRate(this.config.thresholds, connection.quote?.rate ?? 0n, MIN_CREDIT_BYTES)
  }

  /** The auction's settings while we have data to sell. */
  auction (): MarketSettings {
    return { ...this.config.auction, floor: this.floor }
  }

  /**
   * Sends each bidder its rank and rate where they changed. The engine calls this before it applies
   * the decision, so a bid response always reaches a winner before the unchoke that opens its slot.
   */
  applyQuotes (decision: ChokeDecision): void {
    for (const [peer, connection] of this.connections) {
      if (!connection.remote) continue
      const quote = decision.quotes?.get(peer.address)
      const paid = decision.unchoke.get(peer.address) === 'paid'
      const next: BidQuote = quote && paid ? quote : { rate: 0n, rank: quote?.rank ?? 0 }
      const current = connection.quote
      if (current && current.rate === next.rate && current.rank === next.rank) continue
      if (!current && next.rate === 0n && next.rank === 0) continue
      connection.quote = next
      connection.extension.send({ type: 'bid-response', rate: next.rate, rank: next.rank, paidSlots: decision.paidSlots ?? 0 })
    }
  }

  /** What a block arriving from `peer` now costs, and whom it is owed to; undefined when it is free. */
  chargeFor (peer: Peer): BlockCharge | undefined {
    return this.connections.get(peer)?.charge
  }

  /** A block left for `peer`: meter it at the rate we quoted, and ask for payment or cut it off past the thresholds. */
  sent (peer: Peer, bytes: number): void {
    const connection = this.connections.get(peer)
    const counterparty = connection?.counterparty
    if (!connection?.quote || connection.quote.rate === 0n || !counterparty) return
    counterparty.ledger = recordSent(counterparty.ledger, bytes, connection.quote.rate)
    this.trades.set(counterparty.wallet, recordSent(this.trades.get(counterparty.wallet) ?? EMPTY_LEDGER, bytes, connection.quote.rate))
    const owed = debt(counterparty.ledger)
    const thresholds = this.thresholdsFor(connection)
    const standingNow = standing(counterparty.ledger, thresholds)
    if (standingNow === 'cut-off') {
      this.hooks.requestRechoke()
    } else if (standingNow === 'payment-due' && owed > connection.lastPaymentRequest && connection.bid) {
      connection.lastPaymentRequest = owed + thresholds.payment / 4n
      connection.extension.send({ type: 'payment-request', channel: connection.bid.channel, owed: totalCharged(counterparty.ledger) })
    }
  }

  /**
   * A piece passed its hash check: owe each sender for exactly its bytes at its rate, and pay. A
   * sender that has since disconnected is still paid: the voucher is stored now and sent when it
   * reconnects.
   */
  verified (contributions: readonly Contribution[]): void {
    const owedTo = new Set<Counterparty>()
    for (const { charge, bytes } of contributions) {
      const counterparty = this.counterpartyOf(charge.payee)
      counterparty.ledger = recordVerified(counterparty.ledger, bytes, charge.rate)
      this.trades.set(charge.payee, recordVerified(this.trades.get(charge.payee) ?? EMPTY_LEDGER, bytes, charge.rate))
      owedTo.add(counterparty)
    }
    for (const counterparty of owedTo) this.schedulePayment(counterparty)
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
    return [...this.trades].map(([wallet, ledger]) => ({
      wallet,
      boughtBytes: ledger.boughtBytes,
      owedToThem: totalOwed(ledger).toString(),
      soldBytes: ledger.soldBytes,
      chargedToThem: totalCharged(ledger).toString()
    }))
  }

  /**
   * Auto-bid (the BTT whitepaper's rule): spending rate × budget left / MiB left, re-bid only on a
   * move of more than 10%. Called about once a second with what is left to download.
   */
  autoBid (bytesLeft: number): void {
    if (!this.options.auto || isUsd(this.options.bid)) return
    const proposed = autoBid(this.config.autoBidSpendingRate, this.budgetLeft, bytesLeft)
    if (shouldRebid(this.options.bid, proposed)) this.setBid(proposed)
  }

  /**
   * Withdraws the bids before the budget runs short (docs/protocol.md §7): what is signed, what is
   * owed for verified pieces and what the blocks in flight will cost must fit in it. Paying stops at
   * the budget regardless; this keeps sellers from sending data the budget cannot pay for.
   */
  guardBudget (inFlightByteRate: bigint): void {
    if (!this.bidding) return
    let owed = 0n
    for (const counterparty of this.counterparties.values()) owed += unpaid(counterparty.ledger)
    if (!withinBudget(this.options.budget, this.spent + owed, inFlightByteRate)) this.stopBidding('the budget left cannot cover the data in flight')
  }

  /** A changed bid (in BTT, or in USD): sent to every seller at once; a USD bid is agreed anew per channel. */
  setBid (price: Quote): void {
    this.options.bid = price
    for (const counterparty of this.counterparties.values()) counterparty.agreedBid = undefined
    for (const connection of this.connections.values()) this.maybeBid(connection)
  }

  // ---------------------------------------------------------------- channels

  /** The state with one wallet, created (and continued from its stored vouchers) on first use. */
  private counterpartyOf (wallet: string): Counterparty {
    const known = this.counterparties.get(wallet)
    if (known) return known
    const counterparty: Counterparty = {
      wallet,
      toThem: channelIdFor(this.config.identity.wallet, wallet, this.infoHash),
      toUs: channelIdFor(wallet, this.config.identity.wallet, this.infoHash),
      connections: new Set(),
      ledger: EMPTY_LEDGER,
      latestSent: undefined,
      queue: Promise.resolve(),
      steps: 0,
      payScheduled: false,
      lastPaymentAt: 0,
      pendingVoucher: undefined,
      channelFunds: undefined,
      funding: false,
      fundRetryAt: 0
    }
    this.counterparties.set(wallet, counterparty)
    this.enqueue(counterparty, () => this.continueChannels(counterparty))
    return counterparty
  }

  /** Continues both channels with this wallet from the vouchers stored in earlier runs or connections. */
  private async continueChannels (counterparty: Counterparty): Promise<void> {
    const sent = await this.config.store.sentVouchers.get(hex(counterparty.toThem))
    if (sent) {
      counterparty.ledger = continuePaid(counterparty.ledger, BigInt(sent.amount))
      counterparty.latestSent = { channel: counterparty.toThem, nonce: sent.nonce, amount: BigInt(sent.amount), signature: Buffer.from(sent.signature, 'hex') }
    }
    const received = await this.config.store.receivedVouchers.get(hex(counterparty.toUs))
    if (received) counterparty.ledger = continueReceived(counterparty.ledger, BigInt(received.amount))
  }

  /**
   * A counterparty with no connection and nothing owed either way is dropped (its vouchers are
   * stored); one still owed for bytes in unverified pieces is recreated when they verify.
   */
  private forgetIfSettled (counterparty: Counterparty): void {
    if (counterparty.connections.size > 0 || counterparty.steps > 0) return
    if (unpaid(counterparty.ledger) > 0n || debt(counterparty.ledger) > 0n) return
    this.counterparties.delete(counterparty.wallet)
  }

  private connectionTo (counterparty: Counterparty): Connection | undefined {
    for (const connection of counterparty.connections) return connection
    return undefined
  }

  // ---------------------------------------------------------------- messages

  private onHandshake (connection: Connection, remote: MarketHandshake): void {
    connection.remote = remote
    if (!connection.counterparty) {
      const counterparty = this.counterpartyOf(remote.wallet)
      connection.counterparty = counterparty
      counterparty.connections.add(connection)
      // The seller may not have our latest voucher (it was signed while this peer was away, or
      // before a restart): send it again once the channel is loaded. An exact repeat is harmless.
      this.enqueue(counterparty, async () => {
        const latest = counterparty.latestSent
        if (latest && counterparty.connections.has(connection)) connection.extension.send({ type: 'voucher', ...latest })
      })
    }
    this.maybeBid(connection)
  }

  private onMessage (peer: Peer, connection: Connection, message: MarketMessage): void {
    switch (message.type) {
      case 'bid': return this.onBid(connection, message)
      case 'bid-response': {
        const rate = message.rank > 0 && message.rank <= message.paidSlots ? message.rate : 0n
        connection.charge = rate > 0n && connection.remote ? { payee: connection.remote.wallet, rate } : undefined
        return
      }
      case 'payment-request':
        this.log.debug('payment requested', { infoHash: this.infoHash, peer: peer.address, owed: message.owed.toString() })
        return
      case 'voucher': {
        const counterparty = connection.counterparty
        if (!counterparty) return
        // Each voucher is stored with a synced write: while one is being checked and stored, newer
        // ones wait, and only the newest of them is looked at (it supersedes the rest).
        const scheduled = counterparty.pendingVoucher !== undefined
        counterparty.pendingVoucher = { voucher: message, from: connection }
        if (!scheduled) {
          this.enqueue(counterparty, async () => {
            const newest = counterparty.pendingVoucher
            counterparty.pendingVoucher = undefined
            if (newest) await this.onVoucher(peer, counterparty, newest.from, newest.voucher)
          })
        }
        return
      }
      case 'reject':
        this.log.info('the peer refused a market message', { infoHash: this.infoHash, peer: peer.address, code: message.code, about: message.about, reason: message.reason })
        if (message.about === 'bid') connection.bidRefused = true
    }
  }

  private reject (connection: Connection, code: RejectCode, about: MarketMessage['type'], reason: string): void {
    connection.extension.send({ type: 'reject', code, about, reason })
  }

  private onBid (connection: Connection, bid: BidMessage): void {
    const remote = connection.remote!
    const refuse = (code: RejectCode, reason: string): void => {
      connection.bid = undefined
      this.reject(connection, code, 'bid', reason)
      this.hooks.requestRechoke()
    }
    if (remote.wallet === this.config.identity.wallet) return refuse('self-trade', 'the bidder pays from this seller\'s own wallet')
    if (remote.chainId !== this.config.identity.chainId) return refuse('wrong-chain', `vouchers here are for chain ${this.config.identity.chainId}`)
    if (bid.backend !== this.config.settlement.backend) return refuse('unsupported-backend', `this seller settles with ${this.config.settlement.backend}`)
    const counterparty = connection.counterparty!
    if (!Buffer.from(bid.channel).equals(counterparty.toUs)) return refuse('unknown-channel', 'not the channel of this bidder, seller and torrent')
    if (bid.price === 0n) {
      connection.bid = undefined
      return this.hooks.requestRechoke()
    }
    if (bid.price < this.floor) return refuse('below-floor', `the floor is ${this.floor} base units per MiB`)
    if (!this.config.settlement.fundChannel) {
      connection.bid = bid
      return this.hooks.requestRechoke()
    }
    // On a chain the bid counts only if the channel holds a deposit for more than what was paid.
    this.enqueue(counterparty, async () => {
      const funds = await this.config.settlement.fundsOf(hex(bid.channel), counterparty.ledger.received + 1n)
      if (funds <= counterparty.ledger.received) return refuse('over-funds', `the channel holds no deposit beyond the ${counterparty.ledger.received} already paid`)
      connection.bid = bid
      this.hooks.requestRechoke()
    })
  }

  private async onVoucher (peer: Peer, counterparty: Counterparty, connection: Connection, voucher: VoucherMessage): Promise<void> {
    const channel = hex(voucher.channel)
    const stored = await this.config.store.receivedVouchers.get(channel)
    // The payer re-sends its latest voucher on every new connection: the one we hold changes nothing.
    if (stored && stored.nonce === voucher.nonce && stored.amount === voucher.amount.toString() && stored.signature === hex(voucher.signature)) return
    const best = stored ? { nonce: stored.nonce, amount: BigInt(stored.amount) } : undefined
    const funds = await this.config.settlement.fundsOf(channel, voucher.amount)
    const verdict = judgeVoucher(voucher, {
      payer: counterparty.wallet,
      payee: this.config.identity.wallet,
      infoHash: this.infoHash,
      backend: this.config.settlement.backend,
      domain: this.domain,
      funds
    }, best)
    if (!verdict.ok) {
      this.log.warn('refused a voucher', { infoHash: this.infoHash, peer: peer.address, code: verdict.code, reason: verdict.reason })
      return this.reject(connection, verdict.code, 'voucher', verdict.reason)
    }
    const record = this.record(voucher, counterparty.wallet, this.config.identity.wallet)
    // Durable before it counts: a crash after this line keeps the voucher, before it the payer still owes.
    await this.config.store.receivedVouchers.put(channel, record)
    const thresholds = this.thresholdsFor(connection)
    const before = standing(counterparty.ledger, thresholds)
    counterparty.ledger = recordReceived(counterparty.ledger, voucher.amount)
    this.config.onVoucherStored()
    if (before === 'cut-off' && standing(counterparty.ledger, thresholds) !== 'cut-off') this.hooks.requestRechoke()
  }

  // ---------------------------------------------------------------- paying

  private maybeBid (connection: Connection): void {
    const remote = connection.remote
    if (!remote || remote.floor === undefined || connection.bidRefused) return
    if (remote.wallet === this.config.identity.wallet || remote.chainId !== this.config.identity.chainId) return
    if (!remote.backends.includes(this.config.settlement.backend)) return
    const bid = this.bidFor(connection.counterparty)
    const price = bid >= remote.floor ? bid : 0n
    if (price === connection.bidSent) return
    if (price === 0n && connection.bidSent === 0n) return
    if (price > 0n && !this.channelReady(connection)) return
    connection.bidSent = price
    connection.extension.send({ type: 'bid', price, channel: connection.counterparty!.toThem, backend: this.config.settlement.backend })
  }

  /**
   * On a backend that locks funds, a bid goes out only once our channel to the seller holds a
   * deposit; until then this funds it (a chain transaction) and bids when it is mined.
   */
  private channelReady (connection: Connection): boolean {
    const counterparty = connection.counterparty
    if (!this.config.settlement.fundChannel || !counterparty) return true
    if (counterparty.channelFunds !== undefined && counterparty.channelFunds > counterparty.ledger.paid) return true
    this.fund(counterparty, () => this.maybeBid(connection))
    return false
  }

  /** Funds our channel to a seller with another deposit (within the budget left), then runs `then`. */
  private fund (counterparty: Counterparty, then: () => void): void {
    if (counterparty.funding || Date.now() < counterparty.fundRetryAt) return
    counterparty.funding = true
    this.enqueue(counterparty, async () => {
      try {
        const left = this.budgetLeft
        const deposit = left < this.config.channelDeposit ? left : this.config.channelDeposit
        if (deposit === 0n) return
        counterparty.channelFunds = await this.config.settlement.fundChannel!(counterparty.wallet, this.infoHash, counterparty.ledger.paid + deposit)
      } catch (err) {
        // No funds, or no chain: try again later, not at every message (each try is a chain call).
        counterparty.fundRetryAt = Date.now() + FUND_RETRY_MS
        this.log.warn('cannot fund the channel on chain (bidding waits, and tries again)', { infoHash: this.infoHash, seller: counterparty.wallet, retryInSeconds: FUND_RETRY_MS / 1000, error: errorMessage(err) })
        setTimeout(then, FUND_RETRY_MS).unref()
        return
      } finally {
        counterparty.funding = false
      }
      then()
    })
  }

  /**
   * One payment step at a time per seller, each paying everything verified before it starts: a
   * voucher per verified piece while the disk keeps up, fewer synced writes when it does not.
   */
  private schedulePayment (counterparty: Counterparty): void {
    if (counterparty.payScheduled) return
    counterparty.payScheduled = true
    this.enqueue(counterparty, async () => {
      const wait = counterparty.lastPaymentAt + PAYMENT_INTERVAL_MS - Date.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      counterparty.payScheduled = false
      counterparty.lastPaymentAt = Date.now()
      await this.pay(counterparty)
    })
  }

  private async pay (counterparty: Counterparty): Promise<void> {
    const paidSoFar = counterparty.ledger.paid
    let amount = totalOwed(counterparty.ledger)
    if (amount <= paidSoFar) return
    const left = this.budgetLeft
    if (amount - paidSoFar > left) {
      // Never past the budget: pay what is left of it, and stop bidding.
      amount = paidSoFar + left
      this.stopBidding('the budget is spent')
      if (amount === paidSoFar) return
    }
    const funds = counterparty.channelFunds
    if (this.config.settlement.fundChannel && funds !== undefined && amount > funds) {
      // Never past the deposit (the seller would refuse it): pay what it covers, top it up, pay the rest.
      this.fund(counterparty, () => this.schedulePayment(counterparty))
      amount = funds
      if (amount <= paidSoFar) return
    }
    const voucher = signVoucher(this.config.identity.privateKey, this.domain, { channel: counterparty.toThem, nonce: (counterparty.latestSent?.nonce ?? 0) + 1, amount })
    const record = this.record(voucher, this.config.identity.wallet, counterparty.wallet)
    // Stored before it is sent, with the pieces it pays for: after a crash the next voucher continues
    // from it, and those pieces are looked for on disk rather than bought again.
    const pieces = Buffer.from(this.hooks.verifiedPieces() ?? new Uint8Array(0))
    await this.config.store.storeSentVoucher(record, { bitfield: pieces.toString('base64'), at: record.at })
    counterparty.latestSent = voucher
    this.spent += amount - paidSoFar
    counterparty.ledger = recordPaid(counterparty.ledger, amount)
    // A seller that is not connected now gets it when it comes back (see onHandshake).
    this.connectionTo(counterparty)?.extension.send({ type: 'voucher', ...voucher })
  }

  private stopBidding (reason: string): void {
    if (!this.bidding) return
    this.log.info('withdrawing bids', { infoHash: this.infoHash, reason })
    this.setBid(0n)
  }

  private enqueue (counterparty: Counterparty, step: () => Promise<void>): void {
    counterparty.steps++
    counterparty.queue = counterparty.queue.then(step).catch((err: unknown) => {
      this.log.error('market step failed', { infoHash: this.infoHash, error: errorMessage(err) })
    }).finally(() => {
      counterparty.steps--
      this.forgetIfSettled(counterparty)
    })
  }

  private record (voucher: Omit<VoucherMessage, 'type'>, payer: string, payee: string): VoucherRecord {
    return {
      channel: hex(voucher.channel),
      infoHash: this.infoHash,
      backend: this.config.settlement.backend,
      payer,
      payee,
      chainId: this.config.identity.chainId,
      nonce: voucher.nonce,
      amount: voucher.amount.toString(),
      signature: hex(voucher.signature),
      at: new Date().toISOString()
    }
  }
}
