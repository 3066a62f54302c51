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
}

export interface ChokerState {
  readonly optimistic: readonly string[]
  readonly optimisticSince: number
  /** When each connected peer last got an optimistic slot: rotation goes to whoever waited longest. */
  readonly lastOptimistic: Readonly<Record<string, number>>
}

export type SlotKind = 'regular' | 'optimistic'

export interface ChokeDecision {
  /** Every peer to unchoke, with why; all other peers are choked. */
  readonly unchoke: ReadonlyMap<string, SlotKind>
  readonly state: ChokerState
}

export type Choker = (peers: readonly PeerSnapshot[], state: ChokerState, context: ChokerContext) => ChokeDecision

export const INITIAL_CHOKER_STATE: ChokerState = { optimistic: [], optimisticSince: -Infinity, lastOptimistic: {} }
