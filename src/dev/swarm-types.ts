import type { ChildDaemon } from './processes.js'
import type { ChannelBooks } from './swarm-books.js'

/**
 * The swarm's vocabulary (swarm.ts runs it): what the caller asks for, the peers it may add, what
 * each peer's row says while it runs, and the result; and the run's own records of its peers.
 */

/** A peer of another client (libtorrent, say) that the caller starts in the swarm: a free peer. */
export interface ExternalPeer {
  readonly name: string
  /** What it has now; `done` once it has every piece. */
  status (): { readonly progress: number, readonly downloaded: number, readonly done: boolean }
  stop (): Promise<void>
}

export type ExternalPeerStarter = (torrentFile: string, saveDirectory: string) => Promise<ExternalPeer>

/** A tracker the swarm announces to, on a port the swarm picked. */
export interface SwarmTracker {
  close (): Promise<void>
}

export type TrackerStarter = (port: number, infoHash: string, directory: string) => Promise<SwarmTracker>

export interface LeecherSpec {
  readonly name: string
  /** Base units per MiB; 0 = a free peer without a wallet (a plain BitTorrent peer). */
  readonly bid: bigint
  readonly budget: bigint
}

export interface SwarmOptions {
  readonly size: number
  /** The seeder's upload cap, bytes per second. */
  readonly seederUploadLimit: number
  /** Each leecher's upload cap, bytes per second (0: uncapped). */
  readonly leecherUploadLimit: number
  /** The seeder's floor, base units per MiB; 0 with no bids = the market off. */
  readonly floor: bigint
  readonly leechers: readonly LeecherSpec[]
  /** Other clients' peers, free (they do not speak the bid extension). */
  readonly externalPeers?: readonly ExternalPeerStarter[]
  /** Peer exchange on the leechers (default on, as every client has it). */
  readonly pex?: boolean
  readonly tracker: TrackerStarter
  /** Keep the swarm's files here (default: a temporary folder, removed at the end). */
  readonly directory?: string
  readonly timeoutSeconds: number
  /** Settings for every daemon with a wallet (a chain backend, say). */
  readonly marketEnv?: NodeJS.ProcessEnv
  /** Called with the wallets of the seeder and the bidders before the download starts (to fund them). */
  readonly beforeStart?: (wallets: ReadonlyArray<{ name: string, wallet: string }>) => Promise<void>
  /** Called when every peer is done and the books are read, while the daemons still run (to settle on chain). */
  readonly afterDone?: (seeder: ChildDaemon, infoHash: string) => Promise<void>
  /** What the swarm is doing before the table can start: "seeder ready", "5 leechers started"… */
  readonly onStatus?: (line: string) => void
  /** Called about once a second with every peer's state. */
  readonly onProgress?: (rows: readonly SwarmPeerRow[], elapsedSeconds: number) => void
}

export type PeerKind = 'bidder' | 'free' | 'external'

export interface SwarmPeerRow {
  readonly name: string
  readonly kind: PeerKind
  /** Base units per MiB; '0' for free peers. */
  readonly bid: string
  readonly progress: number
  readonly downloaded: number
  readonly downloadRate: number
  /** Seconds from the start of the download to its last verified piece. */
  readonly completedAfter: number | null
  /** What the sellers confirmed holding from it (its spending), and what it signed beyond that. */
  readonly paid: string
  readonly signedNotAccepted: string
}


export interface SwarmResult {
  readonly size: number
  readonly seederUploadLimit: number
  readonly leecherUploadLimit: number
  readonly floor: string
  readonly infoHash: string
  readonly peers: readonly SwarmPeerRow[]
  /** Each leecher's share of all bytes delivered while every peer was still downloading. */
  readonly sharesWhileContended: Readonly<Record<string, number>>
  /**
   * The seeder's upload to peers outside paid slots (the free class) over its whole upload, from its
   * first auction until the first peer finished.
   */
  readonly freeClassShareWhileContended: number
  /** The last peer's completion, seconds. */
  readonly allDoneSeconds: number
  readonly channels: readonly ChannelBooks[]
  readonly seederEarned: string
  /** The seeder's and the bidders' wallets, by name. */
  readonly wallets: Readonly<Record<string, string>>
}

/** A leecher the swarm started: a bidtorrent daemon, bidding or free. */
export interface DaemonPeer {
  readonly name: string
  readonly kind: 'bidder' | 'free'
  readonly bid: bigint
  readonly budget: bigint
  readonly daemon: ChildDaemon
  readonly wallet: string | null
  completedAfter: number | null
}

/** Another client's peer, with what the swarm measured of it (it has no API to ask). */
export interface ExternalRow {
  readonly peer: ExternalPeer
  completedAfter: number | null
  lastDownloaded: number
  rate: number
}
