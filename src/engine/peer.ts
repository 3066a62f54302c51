import type { SlotKind } from '../choker/types.js'
import type { Direction, PeerSocket, Transport } from './peer-socket.js'
import { TokenBucket } from './rate-limiter.js'
import type { BoundedWire } from './wire.js'

export type { Direction }

export interface UploadRequest {
  readonly index: number
  readonly offset: number
  readonly length: number
  readonly respond: (err: Error | null, data?: Uint8Array) => void
}

/** Exponential moving average over one-second samples: roughly a 4-second window. */
const RATE_SMOOTHING = 0.25

/** One connection to a remote peer: the wire plus what the engine tracks about it. */
export class Peer {
  /** Blocks requested from this peer and not yet received (keys from Torrent.blockKey). */
  readonly outstanding = new Set<number>()
  readonly uploadQueue: UploadRequest[] = []
  readonly connectedAt = Date.now()
  /** Where the peer accepts connections (from the extended handshake when it called us). */
  listenAddress: string | undefined
  /** Requests we keep in flight to this peer; grows with its rate. */
  queueDepth = 64
  downloadRate = 0
  uploadRate = 0
  downloadedBytes = 0
  uploadedBytes = 0
  lastBlockAt = Date.now()
  lastRequestAt = 0
  seed = false
  /** The peer's pieces were added to the torrent's availability counts. */
  availabilityCounted = false
  /** Pieces the peer has, as counted into availability (its bitfield, then its haves). */
  heldPieces = 0
  /** While we super-seed to it (BEP 16): the pieces we offered it, the only ones it may ask us for. */
  superSeedPieces: number[] | undefined
  slotKind: SlotKind | undefined
  /** This peer's share of a capped upload rate in the market (0 = no share of its own). */
  readonly uploadShare = new TokenBucket(0)
  /** The peer asked for more than the limits let through since the last tick. */
  uploadStarved = false
  /** Bytes sent to the peer in the last tick. */
  lastTickUpload = 0
  uploadPumping = false
  waitingForDrain = false
  /** Addresses this peer's PEX gave us in the current minute, and when that minute began. */
  pexAddressesTaken = 0
  pexMinuteStartedAt = 0
  /** The piece this peer is currently filling (see Torrent.pickBlock). */
  activePiece: number | undefined
  private downloadSample = 0
  private uploadSample = 0

  constructor (
    readonly wire: BoundedWire,
    readonly socket: PeerSocket,
    /** host:port as connected (the remote's ephemeral port for incoming connections). */
    readonly address: string,
    readonly direction: Direction,
    readonly transport: Transport
  ) {
    if (direction === 'outgoing') this.listenAddress = address
  }

  get host (): string {
    return this.address.slice(0, this.address.lastIndexOf(':')).replace(/^\[|\]$/g, '')
  }

  get peerId (): string {
    return this.wire.peerId ?? ''
  }

  get client (): string {
    const version = this.wire.peerExtendedHandshake?.v
    if (version instanceof Uint8Array) return Buffer.from(version).toString('utf8').slice(0, 64)
    return typeof version === 'string' ? version.slice(0, 64) : ''
  }

  recordDownload (bytes: number): void {
    this.downloadSample += bytes
    this.downloadedBytes += bytes
    this.lastBlockAt = Date.now()
  }

  recordUpload (bytes: number): void {
    this.uploadSample += bytes
    this.uploadedBytes += bytes
  }

  /** Called once a second. */
  updateRates (elapsedSeconds: number): void {
    this.downloadRate += RATE_SMOOTHING * (this.downloadSample / elapsedSeconds - this.downloadRate)
    this.uploadRate += RATE_SMOOTHING * (this.uploadSample / elapsedSeconds - this.uploadRate)
    this.lastTickUpload = this.uploadSample / elapsedSeconds
    this.downloadSample = 0
    this.uploadSample = 0
  }

  isSnubbing (now: number, snubMs: number): boolean {
    return !this.wire.peerChoking && this.outstanding.size > 0 && now - this.lastBlockAt > snubMs
  }
}
