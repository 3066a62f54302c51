/**
 * The choking decision is a replaceable, pure part: the engine takes a snapshot of its peers,
 * calls the configured choker with it and the current time, and applies the result.
 */

export interface PeerSnapshot {
  readonly id: string
  /** The peer wants data from us. */
  readonly interested: boolean
  /** We currently unchoke the peer. */
  readonly unchoked: boolean
  /** Bytes per second we receive from the peer (recent average). */
  readonly downloadRate: number
  /** Bytes per second we send to the peer (recent average). */
  readonly uploadRate: number
  /** When the connection was established (ms, same clock as `now`). */
  readonly connectedAt: number
  /** The peer has us unchoked but sent nothing for a long time. */
  readonly snubbed: boolean
  /** The peer's standing in the bandwidth market; absent for peers without the bid extension. */
  readonly market?: PeerMarketSnapshot
}

export interface PeerMarketSnapshot {
  /** Price per MiB the peer bids, base units; 0 = no bid. */
  readonly bid: bigint
  /** Its channel (or credit) can pay for data at that bid. */
  readonly funded: boolean
  /** The peer pays from our own wallet: it gets no rank and pays nothing. */
  readonly selfTrade: boolean
  /** Its unpaid debt is past the disconnect threshold: no slot of any kind until it pays. */
  readonly cutOff: boolean
  /** It holds a paid slot now. */
  readonly paidSlot: boolean
}

export type ClearingRule = 'uniform' | 'pay-as-bid'

export interface MarketSettings {
  /** The lowest accepted bid, base units per MiB. */
  readonly floor: bigint
  /** Share of the regular slots kept for non-bidders (0.25 = 25%). */
  readonly reservedShare: number
  /** At least this many regular slots are kept for non-bidders. */
  readonly minReservedSlots: number
  /** uniform: every winner pays the highest losing bid (or the floor); pay-as-bid: each pays its own bid. */
  readonly clearing: ClearingRule
}

export interface ChokerSettings {
  /** Regular (ranked) upload slots. */
  readonly slots: number
  /** Optimistic slots on top of the regular ones. */
  readonly optimisticSlots: number
  readonly optimisticIntervalMs: number
  /**
   * A peer holding a slot keeps it unless a challenger is this much faster (0.1 = 10%):
   * stops two near-equal peers from trading a slot at every rechoke.
   */
  readonly hysteresis: number
}

export interface ChokerContext {
  readonly now: number
  /** We have every piece: rank by what we send rather than what we receive. */
  readonly seeding: boolean
  readonly settings: ChokerSettings
  /** Uniform in [0, 1); injected so tests are deterministic. */
  readonly random: () => number
  /** Present when we sell upload slots. */
  readonly market?: MarketSettings
}

export interface ChokerState {
  readonly optimistic: readonly string[]
  readonly optimisticSince: number
  /** When each connected peer last got an optimistic slot: rotation goes to whoever waited longest. */
  readonly lastOptimistic: Readonly<Record<string, number>>
}

/** paid: sold to a bidder; regular: by reciprocity (the reserved, free share); optimistic: rotating, never sold. */
export type SlotKind = 'paid' | 'regular' | 'optimistic'

export interface BidQuote {
  /** What the bidder pays per MiB while it holds a paid slot; 0 without one. */
  readonly rate: bigint
  /** 1 = the highest eligible bid; a rank above the number of paid slots has none. */
  readonly rank: number
}

export interface ChokeDecision {
  /** Every peer to unchoke, with why; all other peers are choked. */
  readonly unchoke: ReadonlyMap<string, SlotKind>
  readonly state: ChokerState
  /** For each eligible bidder: its rank and the rate it pays. */
  readonly quotes?: ReadonlyMap<string, BidQuote>
  readonly paidSlots?: number
}

export type Choker = (peers: readonly PeerSnapshot[], state: ChokerState, context: ChokerContext) => ChokeDecision

export const INITIAL_CHOKER_STATE: ChokerState = { optimistic: [], optimisticSince: -Infinity, lastOptimistic: {} }
