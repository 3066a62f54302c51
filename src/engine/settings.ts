import type { NetworkLog } from '../util/network-log.js'
import type { Choker, ChokerSettings } from '../choker/types.js'

/** MSE/PE with peers: never, first with a plaintext retry, or only. */
export type EncryptionPolicy = 'plaintext' | 'prefer' | 'require'

/** The engine's knobs; the daemon builds them from the validated configuration. */
export interface EngineSettings {
  /** TCP port for peer connections (0 = any free port). */
  readonly port: number
  readonly listenHost: string
  /** Peer connections over TCP, both ways. */
  readonly tcp: boolean
  /** Peer connections over uTP (BEP 29), both ways, on the UDP port of the same number. */
  readonly utp: boolean
  readonly encryption: EncryptionPolicy
  readonly encryptPayload: boolean
  readonly dht: boolean
  readonly dhtBootstrap: readonly string[] | undefined
  readonly lsd: boolean
  /** Peer exchange (BEP 11) on public torrents. */
  readonly pex: boolean
  /** Bytes per second, 0 = unlimited. */
  readonly uploadLimit: number
  readonly downloadLimit: number
  readonly maxPeersPerTorrent: number
  readonly maxHalfOpenConnections: number
  readonly choker: ChokerSettings
  readonly rechokeIntervalMs: number
  /** A request unanswered this long goes back to the pool for other peers. */
  readonly requestTimeoutMs: number
  readonly snubTimeoutMs: number
  /** Hash failures a peer may cause before it is banned. */
  readonly banAfterHashFailures: number
  readonly pieceCacheBytes: number
  /** Memory for pieces being downloaded and verified, per torrent. */
  readonly maxInFlightBytes: number
  readonly announceIntervalMs: number
  /** Web seeds (BEP 19) on loopback and private networks are used (a .torrent from the network may name any URL). */
  readonly webSeedsAllowPrivate: boolean
}

export interface EngineParts {
  /** The ranking used at every rechoke: replaceable, pure. */
  readonly chokeAlgorithm: Choker
  readonly random: () => number
  /** Where lines a peer can cause go, rate-limited (one shared by every torrent, and the market). */
  readonly networkLog?: NetworkLog
}
