import type { Logger } from 'winston'
import { EMPTY_LEDGER, continuePaid, continueReceived, debt, unpaid, type PeerLedger } from '../accounting/ledger.js'
import type { BidQuote } from '../choker/types.js'
import type { VoucherRecord } from '../settlement/records.js'
import { errorMessage } from '../util/errors.js'
import type { BidMessage, BidResponseMessage, MarketHandshake, ReceiptMessage, RejectCode, VoucherMessage } from './codec.js'
import type { MarketExtension } from './extension.js'
import type { BlockCharge, MarketConfig, MarketHooks } from './market-types.js'
import { channelIdFor, signedVoucherOf, type SignedVoucher } from '../money/voucher.js'
import type { VoucherTally } from './voucher-tally.js'

/** One connection to a peer that speaks the extension: what was said on this wire. */
export interface Connection {
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
  /** As buyer: the seller's last bid response (rank, rate, paid slots). */
  response: BidResponseMessage | undefined
  /** The price last sent to this seller. */
  bidSent: bigint
  /** The seller refused our bid on this connection (we stop bidding here), and why. */
  bidRefusal: { code: RejectCode, reason: string } | undefined
}

export function newConnection (extension: MarketExtension): Connection {
  return { extension, remote: undefined, counterparty: undefined, bid: undefined, quote: undefined, lastPaymentRequest: 0n, charge: undefined, response: undefined, bidSent: 0n, bidRefusal: undefined }
}

/**
 * Everything between us and one remote wallet on this torrent: the two channels (we pay it, it pays
 * us), their ledger and voucher steps. It outlives connections: bytes a peer sent before it dropped
 * are still paid when their pieces verify, and a reconnect continues the same ledger.
 */
export interface Counterparty {
  readonly wallet: string
  /** The channel ids: we pay it, it pays us. */
  readonly toThem: Uint8Array
  readonly toUs: Uint8Array
  readonly connections: Set<Connection>
  ledger: PeerLedger
  /** The latest voucher we signed on the channel to it (from the store, at first use). */
  latestSent: SignedVoucher | undefined
  /**
   * The most we ever signed on that channel: what the budget counts. It can stand above the latest
   * voucher when a seller refused one and we signed again from what it had accepted.
   */
  committed: bigint
  /** The seller's latest receipt (protocol v2): the voucher it holds from us, stored on its side. */
  accepted: { nonce: number, amount: bigint }
  /** The most the seller accepts on our channel to it (its credit cap, or the deposit it read), once it said. */
  sellerLimit: bigint | undefined
  /** Vouchers the seller refused since it last accepted one; past a few, we stop paying it. */
  refusals: number
  /** A refused voucher is re-signed from the seller's next receipt (see BuyerPayments.receipt). */
  resyncOnReceipt: boolean
  /** Why we stopped buying from this seller, until the user bids again; shown to the user. */
  stopped: { state: StoppedState, reason: string } | undefined
  /** As seller: the nonce of the best voucher this wallet gave us. */
  receivedNonce: number
  /** As seller: when we last read the channel's funds afresh because the bidder asked (a top-up). */
  fundsReadAt: number
  /** Voucher work runs one step at a time (each step reads what the last one stored). */
  queue: Promise<void>
  steps: number
  /** A payment step is queued: pieces verified before it runs are paid by it (vouchers are cumulative). */
  payScheduled: boolean
  lastPaymentAt: number
  /** As buyer: the newest receipt not yet looked at (a newer one supersedes it). */
  pendingReceipt: ReceiptMessage | undefined
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

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** Why a buyer stopped bidding to one seller (until the user bids again). */
export type StoppedState = 'refused' | 'limit-reached' | 'unfunded'

/**
 * The counterparties of one torrent's market, by wallet: created on first use and continued from
 * the stored vouchers, each with its own queue of voucher steps, and dropped once settled.
 */
export class CounterpartyBook {
  private readonly byWallet = new Map<string, Counterparty>()

  constructor (private readonly infoHash: string, private readonly config: MarketConfig, private readonly log: Logger) {}

  values (): IterableIterator<Counterparty> {
    return this.byWallet.values()
  }

  /** The state with one wallet, created (and continued from its stored vouchers) on first use. */
  of (wallet: string): Counterparty {
    const known = this.byWallet.get(wallet)
    if (known) return known
    const ours = this.config.identity.wallet
    const counterparty: Counterparty = {
      wallet,
      toThem: channelIdFor(ours, wallet, this.infoHash),
      toUs: channelIdFor(wallet, ours, this.infoHash),
      connections: new Set(),
      ledger: EMPTY_LEDGER,
      latestSent: undefined,
      committed: 0n,
      accepted: { nonce: 0, amount: 0n },
      sellerLimit: undefined,
      refusals: 0,
      resyncOnReceipt: false,
      stopped: undefined,
      receivedNonce: 0,
      fundsReadAt: 0,
      queue: Promise.resolve(),
      steps: 0,
      payScheduled: false,
      lastPaymentAt: 0,
      pendingVoucher: undefined,
      pendingReceipt: undefined,
      channelFunds: undefined,
      funding: false,
      fundRetryAt: 0
    }
    this.byWallet.set(wallet, counterparty)
    this.enqueue(counterparty, () => this.continueChannels(counterparty))
    return counterparty
  }

  /** Continues both channels with this wallet from the vouchers stored in earlier runs or connections. */
  private async continueChannels (counterparty: Counterparty): Promise<void> {
    const { store } = this.config
    const [sent, accepted, received] = await Promise.all([
      store.sentVouchers.get(hex(counterparty.toThem)),
      store.acceptedVouchers.get(hex(counterparty.toThem)),
      store.receivedVouchers.get(hex(counterparty.toUs))
    ])
    if (sent) {
      counterparty.ledger = continuePaid(counterparty.ledger, BigInt(sent.amount))
      counterparty.latestSent = signedVoucherOf(sent)
      counterparty.committed = BigInt(sent.committed ?? sent.amount)
    }
    if (accepted) counterparty.accepted = { nonce: accepted.nonce, amount: BigInt(accepted.amount) }
    if (received) {
      counterparty.ledger = continueReceived(counterparty.ledger, BigInt(received.amount))
      counterparty.receivedNonce = received.nonce
    }
  }

  /**
   * A counterparty with no connection and nothing owed either way is dropped (its vouchers are
   * stored); one still owed for bytes in unverified pieces is recreated when they verify.
   */
  forgetIfSettled (counterparty: Counterparty): void {
    if (counterparty.connections.size > 0 || counterparty.steps > 0) return
    if (unpaid(counterparty.ledger) > 0n || debt(counterparty.ledger) > 0n) return
    this.byWallet.delete(counterparty.wallet)
  }

  /** Runs a voucher step after the ones queued before it, for this counterparty. */
  enqueue (counterparty: Counterparty, step: () => Promise<void>): void {
    counterparty.steps++
    counterparty.queue = counterparty.queue.then(step).catch((err: unknown) => {
      this.log.error('market step failed', { infoHash: this.infoHash, error: errorMessage(err) })
    }).finally(() => {
      counterparty.steps--
      this.forgetIfSettled(counterparty)
    })
  }

  /** A voucher as stored, on this torrent and this backend. */
  record (voucher: Omit<VoucherMessage, 'type'>, payer: string, payee: string): VoucherRecord {
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

/**
 * The connection to send to: the newest. An older one to the same wallet may be dead without our
 * knowing it yet (a killed peer's uTP connection ends only when it times out), while the newest is
 * the one the peer made or answered last.
 */
export function connectionTo (counterparty: Counterparty): Connection | undefined {
  let newest: Connection | undefined
  for (const connection of counterparty.connections) newest = connection
  return newest
}

/** What the seller and the buyer side of one torrent's market share. */
export interface MarketContext {
  readonly infoHash: string
  readonly config: MarketConfig
  readonly hooks: MarketHooks
  readonly log: Logger
  /** Something the user must know (a bid that stopped working): logged as a warning and kept for `info` and `wait`. */
  readonly notify: (message: string, fields?: Record<string, unknown>) => void
  readonly book: CounterpartyBook
  /** This run's meters per wallet, kept for the run (one small record per wallet traded with). */
  readonly trades: Map<string, PeerLedger>
  /** This run's voucher counts, both sides (see VoucherTally). */
  readonly vouchers: VoucherTally
}
