import type { Logger } from 'winston'
import {
  EMPTY_LEDGER, debt, recordPaid, recordReceived, recordSent, recordVerified, standing, totalCharged, totalOwed,
  type DebtThresholds, type PeerLedger
} from '../accounting/ledger.js'
import type { BidQuote, ChokeDecision, MarketSettings, PeerMarketSnapshot } from '../choker/types.js'
import type { VoucherRecord, VoucherStore } from '../daemon/store.js'
import type { Peer } from '../engine/peer.js'
import type { Settlement } from '../settlement/settlement.js'
import { errorMessage } from '../util/errors.js'
import { judgeVoucher } from './acceptance.js'
import { PROTOCOL_VERSION, type BidMessage, type MarketHandshake, type MarketMessage, type RejectCode, type VoucherMessage } from './codec.js'
import { autoBid, shouldRebid } from './bidding.js'
import { MarketExtension, marketExtension } from './extension.js'
import { NO_CONTRACT, channelIdFor, signVoucher, type VoucherDomain } from './voucher.js'

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
}

/** What a torrent's user asked for: a bid and budget to buy, a floor to sell. */
export interface TorrentMarketOptions {
  /** Base units per MiB; 0 = no bid (the daemon never spends without one). */
  bid: bigint
  /** The user asked for `--bid auto`: the bid follows the budget left over the data left. */
  auto: boolean
  /** The most this torrent may spend, base units. */
  budget: bigint
  /** Our floor when selling; undefined = the daemon's default. */
  floor: bigint | undefined
}

/** Bytes of one verified piece that came from one peer, at the rate in force when they arrived. */
export interface Contribution {
  readonly address: string
  readonly bytes: number
  readonly rate: bigint
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
  /** Cumulative amounts, base units. */
  readonly owedByThem: string
  readonly receivedFromThem: string
  readonly owedToThem: string
  readonly paidToThem: string
}

interface PeerMarketState {
  readonly extension: MarketExtension
  remote: MarketHandshake | undefined
  /** As seller: the peer's standing bid, once it passed our checks. */
  bid: BidMessage | undefined
  quote: BidQuote | undefined
  lastPaymentRequest: bigint
  /** As buyer: the rate the peer quoted us, applied to blocks that arrive after it. */
  rateFromThem: bigint
  /** The price last sent to this seller; `bidRefused` once it rejected a bid (we stop bidding there). */
  bidSent: bigint
  bidRefused: boolean
  /** As buyer: the channel's voucher from earlier runs (this run's ledger starts at zero above it). */
  paidBefore: bigint
  lastNonce: number
  ledger: PeerLedger
  /** Voucher work for this peer runs one step at a time (each step reads what the last one stored). */
  queue: Promise<void>
  /** A payment step is queued: pieces verified before it runs are paid by it (vouchers are cumulative). */
  payScheduled: boolean
  lastPaymentAt: number
  /** The newest voucher received and not yet looked at; an older one waiting is superseded by it. */
  pendingVoucher: VoucherMessage | undefined
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
 * The bandwidth market for one torrent, between the engine (which calls the hooks below) and the
 * wire extension, the ledger, the voucher tables and the settlement backend. The engine stays in
 * charge of sockets and pieces; this decides who is owed what, and pays or gets paid.
 */
export class TorrentMarket {
  private readonly peers = new Map<Peer, PeerMarketState>()
  private readonly domain: VoucherDomain
  /** What this torrent has signed for, across every channel and every run (cumulative). */
  private spent: bigint

  constructor (
    private readonly infoHash: string,
    private readonly config: MarketConfig,
    readonly options: TorrentMarketOptions,
    /** What the stored vouchers say this torrent spent in earlier runs: the budget holds across restarts. */
    spentBefore: bigint,
    private readonly requestRechoke: () => void,
    private readonly log: Logger
  ) {
    this.domain = { chainId: config.identity.chainId, verifyingContract: NO_CONTRACT }
    this.spent = spentBefore
  }

  get floor (): bigint {
    return this.options.floor ?? this.config.defaultFloor
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
    const state: PeerMarketState = {
      extension,
      remote: extension.remote,
      bid: undefined,
      quote: undefined,
      lastPaymentRequest: 0n,
      rateFromThem: 0n,
      bidSent: 0n,
      bidRefused: false,
      paidBefore: 0n,
      lastNonce: 0,
      ledger: EMPTY_LEDGER,
      queue: Promise.resolve(),
      payScheduled: false,
      lastPaymentAt: 0,
      pendingVoucher: undefined
    }
    this.peers.set(peer, state)
    extension.on('handshake', (remote) => { state.remote = remote; this.onHandshake(state) })
    extension.on('message', (message) => this.onMessage(peer, state, message))
    extension.on('malformed', (error) => this.log.warn('dropped a malformed market message', { infoHash: this.infoHash, peer: peer.address, error }))
    if (state.remote) this.onHandshake(state)
  }

  detach (peer: Peer): void {
    this.peers.delete(peer)
  }

  /** The choker's view of a peer as a bidder; undefined for peers without the extension. */
  snapshot (peer: Peer): PeerMarketSnapshot | undefined {
    const state = this.peers.get(peer)
    if (!state?.remote) return undefined
    const selfTrade = state.remote.wallet === this.config.identity.wallet
    return {
      bid: state.bid?.price ?? 0n,
      funded: state.bid !== undefined,
      selfTrade,
      cutOff: standing(state.ledger, this.config.thresholds) === 'cut-off',
      paidSlot: peer.slotKind === 'paid'
    }
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
    for (const [peer, state] of this.peers) {
      if (!state.remote) continue
      const quote = decision.quotes?.get(peer.address)
      const paid = decision.unchoke.get(peer.address) === 'paid'
      const next: BidQuote = quote && paid ? quote : { rate: 0n, rank: quote?.rank ?? 0 }
      if (state.quote && state.quote.rate === next.rate && state.quote.rank === next.rank) continue
      if (!state.quote && next.rate === 0n && next.rank === 0) continue
      state.quote = next
      state.extension.send({ type: 'bid-response', rate: next.rate, rank: next.rank, paidSlots: decision.paidSlots ?? 0 })
    }
  }

  /** The rate the peer charges for a block arriving now. */
  rateFrom (peer: Peer): bigint {
    return this.peers.get(peer)?.rateFromThem ?? 0n
  }

  /** A block left for `peer`: meter it at the rate we quoted, and ask for payment or cut it off past the thresholds. */
  sent (peer: Peer, bytes: number): void {
    const state = this.peers.get(peer)
    if (!state?.quote || state.quote.rate === 0n) return
    state.ledger = recordSent(state.ledger, bytes, state.quote.rate)
    const owed = debt(state.ledger)
    const standingNow = standing(state.ledger, this.config.thresholds)
    if (standingNow === 'cut-off') {
      this.requestRechoke()
    } else if (standingNow === 'payment-due' && owed > state.lastPaymentRequest && state.bid) {
      state.lastPaymentRequest = owed + this.config.thresholds.payment / 4n
      state.extension.send({ type: 'payment-request', channel: state.bid.channel, owed: totalCharged(state.ledger) })
    }
  }

  /** A piece passed its hash check: owe each sender for exactly its bytes at its rate, and pay. */
  verified (contributions: readonly Contribution[]): void {
    const byPeer = new Map<Peer, Contribution[]>()
    for (const contribution of contributions) {
      if (contribution.rate === 0n) continue
      const peer = this.peerAt(contribution.address)
      if (!peer) continue
      const list = byPeer.get(peer) ?? []
      list.push(contribution)
      byPeer.set(peer, list)
    }
    for (const [peer, list] of byPeer) {
      const state = this.peers.get(peer)!
      for (const { bytes, rate } of list) state.ledger = recordVerified(state.ledger, bytes, rate)
      this.schedulePayment(state)
    }
  }

  view (peer: Peer): PeerMarketView {
    const state = this.peers.get(peer)
    const ledger = state?.ledger ?? EMPTY_LEDGER
    return {
      speaksMarket: state?.remote !== undefined,
      wallet: state?.remote?.wallet ?? null,
      theirBid: (state?.bid?.price ?? 0n).toString(),
      rank: state?.quote?.rank ?? 0,
      rateToThem: (state?.quote?.rate ?? 0n).toString(),
      rateFromThem: (state?.rateFromThem ?? 0n).toString(),
      owedByThem: totalCharged(ledger).toString(),
      receivedFromThem: ledger.received.toString(),
      owedToThem: ((state?.paidBefore ?? 0n) + totalOwed(ledger)).toString(),
      paidToThem: ((state?.paidBefore ?? 0n) + ledger.paid).toString()
    }
  }

  /**
   * Auto-bid (the BTT whitepaper's rule): spending rate × budget left / MiB left, re-bid only on a
   * move of more than 10%. Called about once a second with what is left to download.
   */
  autoBid (bytesLeft: number): void {
    if (!this.options.auto) return
    const left = this.options.budget > this.spent ? this.options.budget - this.spent : 0n
    const proposed = autoBid(this.config.autoBidSpendingRate, left, bytesLeft)
    if (shouldRebid(this.options.bid, proposed)) this.setBid(proposed)
  }

  /** A changed bid: sent to every seller at once. */
  setBid (price: bigint): void {
    this.options.bid = price
    for (const state of this.peers.values()) this.maybeBid(state)
  }

  // ---------------------------------------------------------------- messages

  private onHandshake (state: PeerMarketState): void {
    this.maybeBid(state)
    this.enqueue(state, () => this.resumeChannel(state))
  }

  private onMessage (peer: Peer, state: PeerMarketState, message: MarketMessage): void {
    switch (message.type) {
      case 'bid': return this.onBid(state, message)
      case 'bid-response':
        state.rateFromThem = message.rank > 0 && message.rank <= message.paidSlots ? message.rate : 0n
        return
      case 'payment-request':
        this.log.debug('payment requested', { infoHash: this.infoHash, peer: peer.address, owed: message.owed.toString() })
        return
      case 'voucher': {
        // Each voucher is stored with a synced write: while one is being checked and stored, newer
        // ones wait, and only the newest of them is looked at (it supersedes the rest).
        const scheduled = state.pendingVoucher !== undefined
        state.pendingVoucher = message
        if (!scheduled) {
          this.enqueue(state, async () => {
            const newest = state.pendingVoucher
            state.pendingVoucher = undefined
            if (newest) await this.onVoucher(peer, state, newest)
          })
        }
        return
      }
      case 'reject':
        this.log.info('the peer refused a market message', { infoHash: this.infoHash, peer: peer.address, code: message.code, about: message.about, reason: message.reason })
        if (message.about === 'bid') state.bidRefused = true
    }
  }

  private reject (state: PeerMarketState, code: RejectCode, about: MarketMessage['type'], reason: string): void {
    state.extension.send({ type: 'reject', code, about, reason })
  }

  private onBid (state: PeerMarketState, bid: BidMessage): void {
    const remote = state.remote!
    const refuse = (code: RejectCode, reason: string): void => {
      state.bid = undefined
      this.reject(state, code, 'bid', reason)
      this.requestRechoke()
    }
    if (remote.wallet === this.config.identity.wallet) return refuse('self-trade', 'the bidder pays from this seller\'s own wallet')
    if (remote.chainId !== this.config.identity.chainId) return refuse('wrong-chain', `vouchers here are for chain ${this.config.identity.chainId}`)
    if (bid.backend !== this.config.settlement.backend) return refuse('unsupported-backend', `this seller settles with ${this.config.settlement.backend}`)
    if (hex(bid.channel) !== hex(channelIdFor(remote.wallet, this.config.identity.wallet, this.infoHash))) return refuse('unknown-channel', 'not the channel of this bidder, seller and torrent')
    if (bid.price === 0n) {
      state.bid = undefined
      return this.requestRechoke()
    }
    if (bid.price < this.floor) return refuse('below-floor', `the floor is ${this.floor} base units per MiB`)
    state.bid = bid
    if (state.ledger.received === 0n) void this.restoreReceived(state, bid)
    this.requestRechoke()
  }

  private async restoreReceived (state: PeerMarketState, bid: BidMessage): Promise<void> {
    const stored = await this.config.store.receivedVouchers.get(hex(bid.channel))
    if (stored) state.ledger = recordReceived(state.ledger, BigInt(stored.amount))
  }

  private async onVoucher (peer: Peer, state: PeerMarketState, voucher: VoucherMessage): Promise<void> {
    const remote = state.remote!
    const channel = hex(voucher.channel)
    const stored = await this.config.store.receivedVouchers.get(channel)
    const best = stored ? { nonce: stored.nonce, amount: BigInt(stored.amount) } : undefined
    const funds = await this.config.settlement.fundsOf(channel)
    const verdict = judgeVoucher(voucher, {
      payer: remote.wallet,
      payee: this.config.identity.wallet,
      infoHash: this.infoHash,
      backend: this.config.settlement.backend,
      domain: this.domain,
      funds
    }, best)
    if (!verdict.ok) {
      this.log.warn('refused a voucher', { infoHash: this.infoHash, peer: peer.address, code: verdict.code, reason: verdict.reason })
      return this.reject(state, verdict.code, 'voucher', verdict.reason)
    }
    const record = this.record(voucher, remote.wallet, this.config.identity.wallet)
    // Durable before it counts: a crash after this line keeps the voucher, before it the payer still owes.
    await this.config.store.receivedVouchers.put(channel, record)
    const before = standing(state.ledger, this.config.thresholds)
    state.ledger = recordReceived(state.ledger, voucher.amount)
    this.config.onVoucherStored()
    if (before === 'cut-off' && standing(state.ledger, this.config.thresholds) !== 'cut-off') this.requestRechoke()
  }

  // ---------------------------------------------------------------- paying

  private maybeBid (state: PeerMarketState): void {
    const remote = state.remote
    if (!remote || remote.floor === undefined || state.bidRefused) return
    if (remote.wallet === this.config.identity.wallet || remote.chainId !== this.config.identity.chainId) return
    if (!remote.backends.includes(this.config.settlement.backend)) return
    const price = this.options.bid >= remote.floor ? this.options.bid : 0n
    if (price === state.bidSent) return
    if (price === 0n && state.bidSent === 0n) return
    state.bidSent = price
    state.extension.send({ type: 'bid', price, channel: channelIdFor(this.config.identity.wallet, remote.wallet, this.infoHash), backend: this.config.settlement.backend })
  }

  /**
   * One payment step at a time per seller, each paying everything verified before it starts: a
   * voucher per verified piece while the disk keeps up, fewer synced writes when it does not.
   */
  private schedulePayment (state: PeerMarketState): void {
    if (state.payScheduled) return
    state.payScheduled = true
    this.enqueue(state, async () => {
      const wait = state.lastPaymentAt + PAYMENT_INTERVAL_MS - Date.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      state.payScheduled = false
      state.lastPaymentAt = Date.now()
      await this.pay(state)
    })
  }

  private async pay (state: PeerMarketState): Promise<void> {
    const remote = state.remote
    if (!remote) return
    const paidSoFar = state.paidBefore + state.ledger.paid
    const owed = state.paidBefore + totalOwed(state.ledger)
    let amount = owed
    if (amount <= paidSoFar) return
    const left = this.options.budget > this.spent ? this.options.budget - this.spent : 0n
    if (amount - paidSoFar > left) {
      // Never past the budget: pay what is left of it, and stop bidding.
      amount = paidSoFar + left
      this.stopBidding('the budget is spent')
      if (amount === paidSoFar) return
    }
    const channel = channelIdFor(this.config.identity.wallet, remote.wallet, this.infoHash)
    const voucher = signVoucher(this.config.identity.privateKey, this.domain, { channel, nonce: state.lastNonce + 1, amount })
    const record = this.record(voucher, this.config.identity.wallet, remote.wallet)
    // Stored before it is sent: after a crash the next voucher continues from it, never below it.
    await this.config.store.sentVouchers.put(record.channel, record)
    state.lastNonce = voucher.nonce
    this.spent += amount - paidSoFar
    state.ledger = recordPaid(state.ledger, amount - state.paidBefore)
    state.extension.send({ type: 'voucher', ...voucher })
  }

  private stopBidding (reason: string): void {
    if (this.options.bid === 0n) return
    this.log.info('withdrawing bids', { infoHash: this.infoHash, reason })
    this.setBid(0n)
  }

  /** Continues the channel from the last voucher we signed in an earlier run, and re-sends it (the seller may not have it). */
  private async resumeChannel (state: PeerMarketState): Promise<void> {
    const remote = state.remote
    if (!remote || state.lastNonce > 0) return
    const channel = channelIdFor(this.config.identity.wallet, remote.wallet, this.infoHash)
    const last = await this.config.store.sentVouchers.get(hex(channel))
    if (!last) return
    state.paidBefore = BigInt(last.amount)
    state.lastNonce = last.nonce
    state.extension.send({ type: 'voucher', channel, nonce: last.nonce, amount: BigInt(last.amount), signature: Buffer.from(last.signature, 'hex') })
  }

  private enqueue (state: PeerMarketState, step: () => Promise<void>): void {
    state.queue = state.queue.then(step).catch((err: unknown) => {
      this.log.error('market step failed', { infoHash: this.infoHash, error: errorMessage(err) })
    })
  }

  private peerAt (address: string): Peer | undefined {
    for (const peer of this.peers.keys()) if (peer.address === address) return peer
    return undefined
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
