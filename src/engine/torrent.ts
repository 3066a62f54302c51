import { EventEmitter } from 'node:events'
import BitField from 'bitfield'
import Discovery from 'torrent-discovery'
import utMetadata from 'ut_metadata'
import utPex from 'ut_pex'
import { advertise, withdraw, type PexExtension } from './pex.js'
import { banKeyOf } from './bans.js'
import { LRUCache } from 'lru-cache'
import type { Logger } from 'winston'
import type { Client as DHT } from 'bittorrent-dht'
import { INITIAL_CHOKER_STATE, type ChokerState, type PeerSnapshot } from '../choker/types.js'
import { isCallableAddress } from '../util/address.js'
import { noteReleasedMemory } from '../util/released-memory.js'
import { errorMessage } from '../util/errors.js'
import { BufferPool, type PieceHasher } from './hasher.js'
import { shareUpload, type UploadDemand } from '../market/bandwidth.js'
import { NetworkLog } from '../util/network-log.js'
import type { BlockCharge, Contribution, MarketHooks, PeerMarketView, TorrentMarket, TorrentObservation } from '../market/torrent-market.js'
import { metaFromPeers, pieceLengthOf, type MagnetInfo, type TorrentMeta } from './metainfo.js'
import { Peer, type UploadRequest } from './peer.js'
import { pickRarestPiece } from './piece-picker.js'
import { RateLimitChain, TokenBucket } from './rate-limiter.js'
import type { EngineParts, EngineSettings } from './settings.js'
import { PieceStorage } from './storage.js'
import { UploadBufferPool, holdForSend } from './upload-buffers.js'

export const BLOCK_SIZE = 16 * 1024
const MAX_REQUEST_LENGTH = 128 * 1024
const MIN_QUEUE_DEPTH = 32
const MAX_QUEUE_DEPTH = 128
/** Requests we queue from one peer before refusing more (libtorrent keeps up to 500 outstanding). */
const MAX_UPLOAD_QUEUE = 2000
/** A peer's request queue is topped up once it has drained to this fraction. */
const REFILL_FRACTION = 0.5
/** Keep about this many seconds of data requested from each peer. */
const REQUEST_QUEUE_SECONDS = 2
/** Stop feeding a peer's socket past this much unsent data; resume on 'drain'. */
const UPLOAD_BUFFER_BYTES = 1024 * 1024
/** A peer is given this long to become useful before its slot may go to a newcomer. */
const IDLE_GRACE_MS = 30_000
/** A peer that sends nothing at all (not even a keep-alive, due every two minutes) for this long is dropped. */
const SILENT_TIMEOUT_MS = 300_000
/** A peer that breaks the protocol this many times is banned. */
const PROTOCOL_STRIKES_TO_BAN = 3
/** How far ahead the market's limits look at a paying peer's blocks (its guard runs once a second). */
const CHARGE_HORIZON_SECONDS = 2
/** A queue held back by a rate limit is looked at again within this long, whatever the limit said. */
const MAX_UPLOAD_WAIT_MS = 250
const RECONNECT_BACKOFF_MS = [5_000, 15_000, 60_000, 300_000]
/** The first PEX message goes out this soon after the handshake; ut_pex then sends one every 65 s. */
const FIRST_PEX_DELAY_MS = 2_000

const TICK_MS = 1000
/** Peers a torrent remembers the misbehaviour of (strikes and bans), the longest-ago forgotten first. */
const MAX_REMEMBERED_PEERS = 10_000
/** Addresses a torrent remembers to call (libtorrent's max_peerlist_size is 3000 too). */
const MAX_CANDIDATES = 3000
/** Addresses one peer's PEX may add in a minute (BEP 11's 50 a message, one message a minute). */
const PEX_ADDRESSES_PER_MINUTE = 50
/**
 * Cached pieces not asked for in this long are let go: no peer is downloading then, and reading a
 * piece again comes from the OS's page cache. Shorter than the daemon's idle-collection interval,
 * so that collection finds them already released.
 */
const PIECE_CACHE_EXPIRY_MS = 20_000

export type TorrentState = 'metadata' | 'checking' | 'downloading' | 'seeding' | 'paused' | 'error'

interface PieceProgress {
  readonly index: number
  readonly length: number
  readonly blockCount: number
  readonly buffer: Buffer
  /** Outstanding requests per block (2 while endgame doubles a block). */
  readonly requested: Uint8Array
  readonly received: Uint8Array
  /** Address of the peer that sent each block: the piece's hash decides whom to pay or blame. */
  readonly senders: Array<string | undefined>
  /** What each block cost when it arrived (the sender's wallet and rate); undefined = free. */
  readonly charges: Array<BlockCharge | undefined>
  receivedCount: number
  /** No block before this index is unrequested and unreceived. */
  cursor: number
  verifying: boolean
}

interface Candidate {
  failures: number
  nextAttemptAt: number
}

export interface TorrentInit {
  readonly infoHash: string
  readonly meta?: TorrentMeta
  readonly magnet?: MagnetInfo
  readonly directory: string
  readonly peerId: string
  readonly settings: EngineSettings
  readonly parts: EngineParts
  readonly logger: Logger
  readonly hasher: PieceHasher
  readonly globalUpload: TokenBucket
  readonly globalDownload: TokenBucket
  readonly listenPort: () => number
  readonly dht: DHT | undefined
  readonly connect: (address: string, torrent: Torrent) => void
  /** Pieces already verified in an earlier run (resume data); skips the check. */
  readonly resumeBitfield?: Uint8Array
  /**
   * Pieces known verified by a record newer than the resume data (the last voucher's, the pieces
   * verified since the last save): those missing from the resume data are checked on disk at start
   * instead of fetched, and bought, again. A crash then loses no verified piece.
   */
  readonly recheckBitfield?: Uint8Array
  /** Awaited before a piece that passed its hash check counts as verified (the daemon records it first). */
  readonly beforeVerified?: (index: number) => Promise<void>
  readonly uploadLimit?: number
  readonly downloadLimit?: number
  /** The bandwidth market for this torrent, when the daemon has a wallet. */
  readonly market?: (hooks: MarketHooks) => TorrentMarket
}

export interface PeerInfo {
  readonly address: string
  /** Where the peer accepts connections, when known (from its extended handshake). */
  readonly listenAddress: string | null
  readonly peerId: string
  readonly client: string
  readonly direction: 'incoming' | 'outgoing'
  readonly downloadRate: number
  readonly uploadRate: number
  readonly downloaded: number
  readonly uploaded: number
  readonly amChoking: boolean
  readonly peerChoking: boolean
  readonly amInterested: boolean
  readonly peerInterested: boolean
  readonly slot: string | null
  readonly progress: number
  readonly outstandingRequests: number
  readonly market: PeerMarketView | null
}

export interface TorrentStatus {
  readonly infoHash: string
  readonly name: string
  readonly state: TorrentState
  readonly error: string | null
  readonly directory: string
  readonly length: number | null
  readonly pieceLength: number | null
  readonly pieceCount: number | null
  readonly verifiedPieces: number
  readonly checkedPieces: number
  readonly progress: number
  readonly downloaded: number
  readonly uploaded: number
  readonly wasted: number
  readonly downloadRate: number
  readonly uploadRate: number
  readonly peers: number
  readonly seeds: number
  /** Addresses known to call (from trackers, the DHT, PEX and the user), connected or not. */
  readonly knownPeers: number
  readonly uploadLimit: number
  readonly downloadLimit: number
  readonly hashFailures: number
  readonly bannedPeers: readonly string[]
  /** Pieces already verified on disk when the torrent started (from resume data, or found by a check). */
  readonly piecesFromResume: number
  readonly piecesDownloaded: number
  /** Blocks asked of a second peer in endgame (the first was still outstanding). */
  readonly endgameRequests: number
  /** When this torrent was added in this run of the daemon (ms since the epoch). */
  readonly startedAt: number
  /** When the last piece was verified in this run, if it was (a torrent complete on arrival has none). */
  readonly completedAt: number | null
  /** CPU time of the last rechoke (snapshots, the choker, applying its decision), in microseconds. */
  readonly lastRechokeMicros: number | null
  readonly files: ReadonlyArray<{ path: string; length: number }>
}

/**
 * One torrent: its pieces, its peers, the requests in flight, the upload queue and the choker.
 * Sockets are opened by the Engine; everything after the handshake happens here.
 */
export class Torrent extends EventEmitter {
  readonly infoHash: string
  meta: TorrentMeta | undefined
  state: TorrentState
  error: string | null = null
  readonly directory: string
  private readonly peers = new Map<string, Peer>()
  private readonly candidates = new Map<string, Candidate>()
  private readonly connecting = new Set<string>()
  // What the torrent remembers of peers that misbehaved is bounded: an attacker with many
  // addresses (a whole IPv6 prefix; ports on loopback) must not grow it without end.
  /** Banned IPs (address and port on loopback): see banKeyOf. */
  private readonly bannedAddresses = new LRUCache<string, true>({ max: MAX_REMEMBERED_PEERS })
  private readonly bannedPeerIds = new LRUCache<string, true>({ max: MAX_REMEMBERED_PEERS })
  private readonly strikes = new LRUCache<string, number>({ max: MAX_REMEMBERED_PEERS })
  /** Protocol violations per peer (its ban key), as hash failures are counted in `strikes`. */
  private readonly protocolStrikes = new LRUCache<string, number>({ max: MAX_REMEMBERED_PEERS })
  private ownNetworkLog: NetworkLog | undefined
  /** Peers that sent bad data for a piece are not asked for it again while others have it. */
  private readonly failedSenders = new Map<number, Set<string>>()
  private readonly inProgress = new Map<number, PieceProgress>()
  private have = new BitField(0)
  private haveCount = 0
  private availability = new Uint16Array(0)
  private blocksPerPiece = 1
  private storage: PieceStorage | undefined
  private pool: BufferPool | undefined
  private cache: LRUCache<number, Buffer> | undefined
  private uploadBuffers: UploadBufferPool | undefined
  private readonly cacheLoads = new Map<number, Promise<Buffer>>()
  private lastPieceLoadAt = 0
  /** The bandwidth market, when the daemon has a wallet. */
  readonly market: TorrentMarket | undefined
  private rechokeSoon = false
  private discovery: Discovery | undefined
  private tick: NodeJS.Timeout | undefined
  private lastTickAt = Date.now()
  private lastRechokeAt = 0
  private chokerState: ChokerState = INITIAL_CHOKER_STATE
  private downloadTimer: NodeJS.Timeout | undefined
  private readonly uploadBucket: TokenBucket
  private readonly downloadBucket: TokenBucket
  private readonly uploadLimiter: RateLimitChain
  private readonly downloadLimiter: RateLimitChain
  private downloadSample = 0
  private uploadSample = 0
  private downloadRate = 0
  private uploadRate = 0
  private downloaded = 0
  private uploaded = 0
  private wasted = 0
  private hashFailures = 0
  private checkedPieces = 0
  private piecesFromResume = 0
  private piecesDownloaded = 0
  private endgameRequests = 0
  private readonly startedAt = Date.now()
  private completedAt: number | null = null
  private lastRechokeMicros: number | null = null
  private destroyed = false
  private destroying: Promise<void> | undefined
  private fetchingMetadata = false
  /** The user's pause, kept apart from `state` so that checking data does not forget it. */
  private pausedByUser = false
  /** Pieces being hashed and written: pause and destroy wait for them, so nothing changes after they return. */
  private readonly verifications = new Set<Promise<void>>()
  /** Reused between calls: index, offset, length of each request in one batch. */
  private requestBatch = new Uint32Array(3 * 64)

  constructor (private readonly init: TorrentInit) {
    super()
    this.infoHash = init.infoHash
    this.directory = init.directory
    this.meta = init.meta
    this.state = init.meta ? 'checking' : 'metadata'
    this.uploadBucket = new TokenBucket(init.uploadLimit ?? 0)
    this.downloadBucket = new TokenBucket(init.downloadLimit ?? 0)
    this.uploadLimiter = new RateLimitChain([init.globalUpload, this.uploadBucket])
    this.downloadLimiter = new RateLimitChain([init.globalDownload, this.downloadBucket])
    for (const address of init.magnet?.peerAddresses ?? []) this.addPeerAddress(address)
    this.market = init.market?.({
      requestRechoke: () => this.requestRechoke(),
      verifiedPieces: () => this.meta ? this.have.buffer : undefined
    })
  }

  /** Bytes still to verify (an estimate that counts the last piece as whole; large before metadata). */
  bytesLeft (): number {
    return this.meta ? Math.max(0, this.meta.length - this.haveCount * this.meta.pieceLength) : Number.MAX_SAFE_INTEGER
  }

  /** A bid or a debt changed: rechoke at once (at most once a turn of the event loop), not at the next tick. */
  requestRechoke (): void {
    if (this.rechokeSoon) return
    this.rechokeSoon = true
    setImmediate(() => {
      this.rechokeSoon = false
      if (!this.destroyed && this.meta) this.rechoke(Date.now())
    })
  }

  get name (): string {
    return this.meta?.name ?? this.init.magnet?.name ?? this.infoHash
  }

  get complete (): boolean {
    return this.meta !== undefined && this.haveCount === this.meta.pieceCount
  }

  private get log (): Logger {
    return this.init.logger
  }

  /** For lines a peer can cause: rate-limited per peer and in total. */
  private get networkLog (): NetworkLog {
    this.ownNetworkLog ??= this.init.parts.networkLog ?? new NetworkLog(this.init.logger)
    return this.ownNetworkLog
  }

  /** Prepares storage (checking data already on disk unless resume data vouches for it) and joins the swarm. */
  async start (): Promise<void> {
    if (this.meta) await this.setupContent(this.meta, this.init.resumeBitfield)
    if (this.destroyed) return
    this.joinSwarm()
  }

  // ---------------------------------------------------------------- lifecycle

  /** Stops all transfer; resolves once pieces already being verified are settled. */
  async pause (): Promise<void> {
    if (this.pausedByUser || this.destroyed) return
    this.pausedByUser = true
    this.leaveSwarm()
    // A check in progress finishes first; it then settles on 'paused'.
    if (this.state !== 'checking' && this.state !== 'error') this.state = 'paused'
    this.emit('state', this.state)
    await this.settleVerifications()
  }

  private async settleVerifications (): Promise<void> {
    while (this.verifications.size > 0) await Promise.allSettled([...this.verifications])
  }

  resume (): void {
    if (!this.pausedByUser || this.destroyed) return
    this.pausedByUser = false
    if (this.state === 'checking' || this.state === 'error') return
    this.state = this.runningState()
    this.emit('state', this.state)
    this.joinSwarm()
  }

  private runningState (): TorrentState {
    return this.meta ? (this.complete ? 'seeding' : 'downloading') : 'metadata'
  }

  destroy (options: { deleteData?: boolean } = {}): Promise<void> {
    this.destroying ??= (async () => {
      this.leaveSwarm()
      await this.settleVerifications()
      this.destroyed = true
      this.releaseUploadMemory()
      await this.storage?.close()
      if (options.deleteData) await this.storage?.deleteFiles()
    })()
    return this.destroying
  }

  setLimits (limits: { uploadLimit?: number; downloadLimit?: number }): void {
    if (limits.uploadLimit !== undefined) this.uploadBucket.setRate(limits.uploadLimit)
    if (limits.downloadLimit !== undefined) this.downloadBucket.setRate(limits.downloadLimit)
  }

  /**
   * The verified pieces now, not yet synced to disk: what survives the process being killed (the
   * kernel has the data), to be checked on disk at the next start. See durableBitfield.
   */
  verifiedBitfield (): Buffer | undefined {
    return this.meta ? Buffer.from(this.have.buffer) : undefined
  }

  /** The verified pieces that are durably on disk, for resume data (pieces are synced before they are named). */
  async durableBitfield (): Promise<Buffer | undefined> {
    if (!this.meta || !this.storage || this.state === 'checking') return undefined
    const snapshot = Buffer.from(this.have.buffer)
    await this.storage.sync()
    return snapshot
  }

  /**
   * A peer to call. `retryNow`: the user named it (`add --peer`), so one already known is called
   * again at once, whatever its back-off after earlier failures.
   */
  addPeerAddress (address: string, retryNow = false): void {
    // Remembered while paused: the peers are called once the torrent runs again.
    if (this.destroyed || this.isBanned(address)) return
    const known = this.candidates.get(address)
    if (known) {
      if (!retryNow) return
      known.failures = 0
      known.nextAttemptAt = 0
      if (!this.pausedByUser) this.connectMore()
      return
    }
    if (!isCallableAddress(address)) return
    if (address === `127.0.0.1:${this.init.listenPort()}`) return
    if (!this.roomForCandidate() && !retryNow) return
    this.candidates.set(address, { failures: 0, nextAttemptAt: 0 })
    if (!this.pausedByUser) this.connectMore()
  }

  /**
   * BEP 11 puts at most 50 peers in a message and ut_pex lets one through a minute: a peer that
   * lists more is not telling us about its swarm, it is aiming us at someone.
   */
  private onPexAddress (peer: Peer, address: string): void {
    const now = Date.now()
    if (now - peer.pexMinuteStartedAt >= 60_000) {
      peer.pexMinuteStartedAt = now
      peer.pexAddressesTaken = 0
    }
    if (peer.pexAddressesTaken >= PEX_ADDRESSES_PER_MINUTE) return
    peer.pexAddressesTaken++
    this.addPeerAddress(address)
  }

  /** A full peer list makes room for a new address by forgetting one that has failed, if any. */
  private roomForCandidate (): boolean {
    if (this.candidates.size < MAX_CANDIDATES) return true
    for (const [address, candidate] of this.candidates) {
      if (candidate.failures > 0 && !this.connecting.has(address)) {
        this.candidates.delete(address)
        return true
      }
    }
    return false
  }

  // ---------------------------------------------------------------- swarm membership

  private joinSwarm (): void {
    if (this.destroyed || this.pausedByUser || this.tick) return
    this.lastTickAt = Date.now()
    this.tick = setInterval(() => this.onTick(), TICK_MS)
    this.tick.unref()
    this.startDiscovery()
    this.connectMore()
  }

  private leaveSwarm (): void {
    clearInterval(this.tick)
    clearTimeout(this.downloadTimer)
    this.tick = undefined
    this.downloadTimer = undefined
    this.discovery?.destroy()
    this.discovery = undefined
    for (const peer of [...this.peers.values()]) this.dropPeer(peer, 'leaving swarm')
    for (const piece of this.inProgress.values()) this.abandonPiece(piece)
    // Paused, it serves nobody: its cached pieces go now, not on the next tick, which never comes.
    this.releaseUploadMemory()
  }

  private startDiscovery (): void {
    const announce = [...(this.meta?.announce ?? this.init.magnet?.announce ?? [])]
    const isPrivate = this.meta?.private ?? false
    const { settings } = this.init
    if (announce.length === 0 && (!this.init.dht || isPrivate) && !settings.lsd) return
    const discovery = new Discovery({
      infoHash: this.infoHash,
      peerId: this.init.peerId,
      port: this.init.listenPort(),
      announce,
      dht: isPrivate ? false : (this.init.dht ?? false),
      lsd: settings.lsd && !isPrivate,
      intervalMs: settings.announceIntervalMs,
      tracker: {
        getAnnounceOpts: () => ({
          uploaded: this.uploaded,
          downloaded: this.downloaded,
          // Without metadata the size is unknown, but 0 would tell the tracker we are a seeder.
          left: this.meta ? Math.max(0, this.meta.length - this.haveCount * this.meta.pieceLength) : 16_384
        })
      }
    })
    discovery.on('peer', (peer: unknown, source: string) => {
      if (typeof peer === 'string') this.addPeerAddress(peer)
      else this.log.debug('ignoring non-TCP peer', { source })
    })
    discovery.on('warning', (err: unknown) => this.log.debug('discovery warning', { infoHash: this.infoHash, error: errorMessage(err) }))
    discovery.on('error', (err: unknown) => this.log.warn('discovery error', { infoHash: this.infoHash, error: errorMessage(err) }))
    this.discovery = discovery
  }

  private connectMore (): void {
    if (this.destroyed || this.pausedByUser || !this.tick) return
    const { maxPeersPerTorrent, maxHalfOpenConnections } = this.init.settings
    const now = Date.now()
    for (const [address, candidate] of this.candidates) {
      if (this.peers.size + this.connecting.size >= maxPeersPerTorrent) return
      if (this.connecting.size >= maxHalfOpenConnections) return
      if (this.connecting.has(address) || this.isConnectedTo(address) || candidate.nextAttemptAt > now) continue
      this.connecting.add(address)
      this.init.connect(address, this)
    }
  }

  /** The Engine reports an outgoing connection attempt that failed before the handshake. */
  connectFailed (address: string): void {
    this.connecting.delete(address)
    const candidate = this.candidates.get(address)
    if (candidate) {
      candidate.failures++
      if (candidate.failures > RECONNECT_BACKOFF_MS.length + 2) this.candidates.delete(address)
      else candidate.nextAttemptAt = Date.now() + RECONNECT_BACKOFF_MS[Math.min(candidate.failures - 1, RECONNECT_BACKOFF_MS.length - 1)]!
    }
  }

  private isConnectedTo (address: string): boolean {
    for (const peer of this.peers.values()) if (peer.address === address || peer.listenAddress === address) return true
    return false
  }

  /**
   * Whether a new connection from/to this peer may join (not banned, not a duplicate, room left).
   * When the torrent is full, a connection that has done nothing useful for a while (nothing to
   * trade either way) gives its slot to the newcomer: a crowd of idle peers cannot keep others out.
   */
  acceptsPeer (peerId: string, address: string, direction: 'incoming' | 'outgoing'): boolean {
    if (this.destroyed || this.pausedByUser) return false
    if (this.bannedPeerIds.has(peerId) || this.isBanned(address)) return false
    if (peerId === this.init.peerId) return false
    for (const peer of this.peers.values()) if (peer.peerId === peerId) return false
    if (direction === 'incoming' && this.peers.size >= this.init.settings.maxPeersPerTorrent) {
      const idle = this.idlestPeer(Date.now())
      if (!idle) return false
      this.dropPeer(idle, 'its slot went to a new peer: it had nothing to trade')
    }
    return true
  }

  /** The longest-connected peer that neither wants our data nor has data we want, once past the grace period. */
  private idlestPeer (now: number): Peer | undefined {
    let idlest: Peer | undefined
    for (const peer of this.peers.values()) {
      if (now - peer.connectedAt < IDLE_GRACE_MS || peer.wire.peerInterested || peer.wire.amInterested) continue
      if (!idlest || peer.connectedAt < idlest.connectedAt) idlest = peer
    }
    return idlest
  }

  /**
   * The peer broke the protocol (a message we could not handle, an oversized one): it is already
   * disconnected; said once in the rate-limited log, and banned when it keeps doing it.
   */
  misbehaved (peer: Peer, what: string): void {
    const key = banKeyOf(peer.address)
    const strikes = (this.protocolStrikes.get(key) ?? 0) + 1
    this.protocolStrikes.set(key, strikes)
    this.networkLog.warn(peer.address, 'peer disconnected: it sent ' + what, { infoHash: this.infoHash, strikes })
    if (strikes >= PROTOCOL_STRIKES_TO_BAN) this.ban(peer.address, `${strikes} protocol violations`)
  }

  /** Installs the extensions; must run before our handshake is sent. */
  prepareWire (wire: Peer['wire']): void {
    wire.extendedHandshake.v = 'bidtorrent/0.1.0'
    wire.extendedHandshake.p = this.init.listenPort()
    wire.use(utMetadata(this.meta?.infoBuffer))
    if (this.init.settings.pex && !(this.meta?.private ?? false)) wire.use(utPex())
    this.market?.prepareWire(wire)
  }

  // ---------------------------------------------------------------- peers

  /** Called by the Engine once both handshakes are done. */
  attachPeer (peer: Peer): void {
    const { wire } = peer
    this.connecting.delete(peer.address)
    const candidate = this.candidates.get(peer.address)
    if (candidate) candidate.failures = 0
    this.peers.set(peer.address, peer)
    wire.setKeepAlive(true)

    wire.on('bitfield', () => this.onPeerBitfield(peer))
    wire.on('have', (index: number) => this.onPeerHave(peer, index))
    wire.on('have-all', () => this.onPeerHaveAll(peer))
    wire.on('have-none', () => this.updateInterest(peer))
    wire.on('unchoke', () => this.fillRequests(peer))
    wire.on('choke', () => { if (!wire.hasFast) this.releaseRequests(peer) })
    wire.on('reject', (index: number, offset: number) => this.releaseBlock(peer, index, offset))
    wire.on('cancel', (index: number, offset: number, length: number) => this.onCancel(peer, index, offset, length))
    wire.on('piece', (index: number, offset: number, data: Uint8Array) => this.onBlock(peer, index, offset, data))
    wire.on('interested', () => this.maybeFillSlots(peer))
    wire.on('uninterested', () => this.maybeFillSlots())
    wire.on('request', (index: number, offset: number, length: number, respond: UploadRequest['respond']) =>
      this.onRequest(peer, { index, offset, length, respond }))
    wire.on('extended', (ext: string) => { if (ext === 'handshake') this.onExtendedHandshake(peer) })
    wire.on('unknownmessage', () => this.log.debug('unknown message from peer', { peer: peer.address }))
    peer.socket.on('drain', () => { if (peer.waitingForDrain) { peer.waitingForDrain = false; void this.pumpUploads(peer) } })

    const metadataExtension = wire.ut_metadata as EventEmitter & { fetch(): void } | undefined
    metadataExtension?.on('metadata', (torrent: Uint8Array) => { void this.onMetadata(torrent) })
    metadataExtension?.on('warning', (err: Error) => this.log.debug('ut_metadata', { peer: peer.address, error: err.message }))
    const pexExtension = pexOf(peer)
    pexExtension?.on('peer', (address: string) => this.onPexAddress(peer, address))
    pexExtension?.on('warning', (err: Error) => this.log.debug('ut_pex', { peer: peer.address, error: err.message }))

    this.market?.attach(peer)
    this.sendHaves(peer)
    this.log.debug('peer connected', { infoHash: this.infoHash, peer: peer.address, direction: peer.direction })
    this.emit('peer', peer.address)
  }

  removePeer (peer: Peer): void {
    if (this.peers.get(peer.address) !== peer) return
    this.peers.delete(peer.address)
    this.market?.detach(peer)
    // ut_pex's 65 s interval outlives the wire unless stopped.
    pexOf(peer)?.stop()
    this.tellPex(peer, withdraw)
    this.releaseRequests(peer)
    peer.uploadQueue.length = 0
    if (peer.availabilityCounted && this.meta) {
      if (!peer.seed) {
        for (let i = 0; i < this.meta.pieceCount; i++) if (peer.wire.peerPieces.get(i)) this.availability[i]!--
      }
    }
    if (peer.slotKind) this.maybeFillSlots()
    this.connectMore()
  }

  private dropPeer (peer: Peer, reason: string): void {
    this.log.debug('dropping peer', { infoHash: this.infoHash, peer: peer.address, reason })
    this.removePeer(peer)
    peer.wire.destroy()
    peer.socket.destroy()
  }

  private sendHaves (peer: Peer): void {
    const { wire } = peer
    if (!this.meta) {
      if (wire.hasFast) wire.haveNone()
      return
    }
    if (wire.hasFast && this.haveCount === 0) wire.haveNone()
    else if (wire.hasFast && this.complete) wire.haveAll()
    else wire.bitfield(this.have)
  }

  private onExtendedHandshake (peer: Peer): void {
    const handshake = peer.wire.peerExtendedHandshake
    const port = typeof handshake.p === 'number' && handshake.p > 0 && handshake.p < 65536 ? handshake.p : undefined
    if (port && peer.direction === 'incoming') peer.listenAddress = `${formatHost(peer.host)}:${port}`
    const pex = pexOf(peer)
    if (pex && handshake.m?.ut_pex) {
      pex.start()
      for (const other of this.peers.values()) if (other !== peer && other.listenAddress) advertise(pex, other.listenAddress)
      const first = setTimeout(() => { if (this.peers.get(peer.address) === peer) pex._sendMessage() }, FIRST_PEX_DELAY_MS)
      first.unref()
    }
    this.tellPex(peer, advertise)
    if (!this.meta && !this.fetchingMetadata) this.fetchMetadata()
  }

  /** Tells every other peer's PEX that `peer` (by the address it listens on) joined or left. */
  private tellPex (peer: Peer, tell: (pex: PexExtension, address: string) => void): void {
    if (!peer.listenAddress) return
    for (const other of this.peers.values()) {
      const pex = other === peer ? undefined : pexOf(other)
      if (pex) tell(pex, peer.listenAddress)
    }
  }

  private fetchMetadata (): void {
    for (const peer of this.peers.values()) (peer.wire.ut_metadata as { fetch(): void } | undefined)?.fetch()
  }

  private async onMetadata (torrentFile: Uint8Array): Promise<void> {
    if (this.meta || this.fetchingMetadata || this.destroyed) return
    this.fetchingMetadata = true
    try {
      const meta = await metaFromPeers(torrentFile, this.init.magnet?.announce ?? [])
      if (meta.infoHash !== this.infoHash) throw new Error('metadata does not match the info hash')
      this.meta = meta
      this.log.info('metadata received', { infoHash: this.infoHash, name: meta.name, length: meta.length })
      this.emit('metadata', meta)
      for (const peer of this.peers.values()) (peer.wire.ut_metadata as { cancel(): void } | undefined)?.cancel()
      await this.setupContent(meta, undefined)
      for (const peer of [...this.peers.values()]) {
        if (!this.validatePeerPieces(peer)) continue
        this.countAvailability(peer)
        // A bitfield may only open a connection; pieces found on disk since then go out as haves.
        for (let i = 0; i < meta.pieceCount; i++) if (this.have.get(i)) peer.wire.have(i)
        this.updateInterest(peer)
      }
    } catch (err) {
      this.log.warn('bad metadata from peer', { infoHash: this.infoHash, error: errorMessage(err) })
      this.meta = undefined
      this.fetchingMetadata = false
    }
  }

  private onPeerBitfield (peer: Peer): void {
    if (!this.meta) return
    if (!this.validatePeerPieces(peer)) return
    this.countAvailability(peer)
    this.updateInterest(peer)
  }

  private validatePeerPieces (peer: Peer): boolean {
    if (!this.meta || peer.seed) return true
    const bits = peer.wire.peerPieces.buffer
    const expectedBytes = Math.ceil(this.meta.pieceCount / 8)
    if (bits.length > expectedBytes) {
      for (let i = expectedBytes; i < bits.length; i++) {
        if (bits[i] !== 0) { this.dropPeer(peer, 'bitfield longer than the torrent'); return false }
      }
    }
    const spare = expectedBytes * 8 - this.meta.pieceCount
    if (spare > 0 && bits.length >= expectedBytes && (bits[expectedBytes - 1]! & ((1 << spare) - 1)) !== 0) {
      this.dropPeer(peer, 'bitfield has spare bits set')
      return false
    }
    return true
  }

  private countAvailability (peer: Peer): void {
    if (!this.meta || peer.availabilityCounted) return
    peer.availabilityCounted = true
    if (peer.seed) return
    let count = 0
    for (let i = 0; i < this.meta.pieceCount; i++) {
      if (peer.wire.peerPieces.get(i)) {
        count++
        if (this.availability[i]! < 0xffff) this.availability[i]!++
      }
    }
    if (count === this.meta.pieceCount) this.markSeed(peer)
  }

  /** Seeds are left out of availability counts: a piece every seed has is not rarer or commoner for it. */
  private markSeed (peer: Peer): void {
    if (peer.seed || !this.meta) return
    if (peer.availabilityCounted) {
      for (let i = 0; i < this.meta.pieceCount; i++) if (peer.wire.peerPieces.get(i)) this.availability[i]!--
    }
    peer.seed = true
  }

  private onPeerHave (peer: Peer, index: number): void {
    if (!this.meta) return
    if (index >= this.meta.pieceCount) return this.dropPeer(peer, `have for piece ${index} out of range`)
    if (peer.availabilityCounted && !peer.seed && this.availability[index]! < 0xffff) this.availability[index]!++
    if (!this.have.get(index) && !peer.wire.amInterested) {
      peer.wire.interested()
    }
    this.fillRequests(peer)
  }

  private onPeerHaveAll (peer: Peer): void {
    if (peer.availabilityCounted) this.markSeed(peer)
    peer.seed = true
    peer.availabilityCounted = true
    this.updateInterest(peer)
  }

  private peerHas (peer: Peer, index: number): boolean {
    return peer.seed || peer.wire.peerPieces.get(index)
  }

  private updateInterest (peer: Peer): void {
    if (!this.meta) return
    let wanted = false
    if (!this.complete) {
      if (peer.seed) wanted = true
      else for (let i = 0; i < this.meta.pieceCount && !wanted; i++) wanted = !this.have.get(i) && peer.wire.peerPieces.get(i)
    }
    if (wanted) {
      peer.wire.interested()
      this.fillRequests(peer)
    } else {
      peer.wire.uninterested()
    }
  }

  // ---------------------------------------------------------------- downloading

  private blockKey (index: number, block: number): number {
    return index * this.blocksPerPiece + block
  }

  /**
   * Tops up the requests in flight to a peer. The queue is refilled only once it has drained by a
   * quarter, so requests leave in batches (one buffer, one write) rather than one per block received.
   */
  private fillRequests (peer: Peer): void {
    const meta = this.meta
    if (!meta || this.destroyed || this.state !== 'downloading') return
    const { wire } = peer
    if (wire.peerChoking || !wire.amInterested) return
    const lowWater = this.endgame ? peer.queueDepth : Math.floor(peer.queueDepth * REFILL_FRACTION)
    if (peer.outstanding.size > lowWater) return
    const room = peer.queueDepth - peer.outstanding.size
    if (this.requestBatch.length < room * 3) this.requestBatch = new Uint32Array(room * 3)
    const batch = this.requestBatch
    let count = 0
    while (count < room) {
      const delay = this.downloadLimiter.delayFor(BLOCK_SIZE)
      if (delay > 0) {
        this.scheduleDownloadRefill(delay)
        break
      }
      const next = this.pickBlock(peer)
      if (next === undefined) break
      const { piece, block } = next
      const offset = block * BLOCK_SIZE
      const length = Math.min(BLOCK_SIZE, piece.length - offset)
      piece.requested[block]!++
      peer.outstanding.add(this.blockKey(piece.index, block))
      this.downloadLimiter.consume(length)
      batch[count * 3] = piece.index
      batch[count * 3 + 1] = offset
      batch[count * 3 + 2] = length
      count++
    }
    if (count === 0) return
    peer.lastRequestAt = Date.now()
    wire.requestBlocks(batch, count)
  }

  /** Every missing piece is already being fetched: the last blocks may be asked of two peers. */
  private get endgame (): boolean {
    return this.meta !== undefined && this.haveCount + this.inProgress.size >= this.meta.pieceCount
  }

  private scheduleDownloadRefill (delay: number): void {
    if (this.downloadTimer) return
    this.downloadTimer = setTimeout(() => {
      this.downloadTimer = undefined
      for (const peer of this.peers.values()) this.fillRequests(peer)
    }, delay)
    this.downloadTimer.unref()
  }

  /** Next block to ask this peer for: finish its current piece, join another unfinished one, start the rarest, or double up in endgame. */
  private pickBlock (peer: Peer): { piece: PieceProgress; block: number } | undefined {
    const active = peer.activePiece === undefined ? undefined : this.inProgress.get(peer.activePiece)
    if (active) {
      const block = nextUnrequested(active)
      if (block >= 0) return { piece: active, block }
    }
    for (const piece of this.inProgress.values()) {
      if (piece.verifying || !this.peerHas(peer, piece.index) || this.failedSenders.get(piece.index)?.has(peer.address)) continue
      const block = nextUnrequested(piece)
      if (block >= 0) {
        peer.activePiece = piece.index
        return { piece, block }
      }
    }
    const started = this.startPiece(peer)
    if (started) {
      peer.activePiece = started.index
      return { piece: started, block: nextUnrequested(started) }
    }
    return this.endgameBlock(peer)
  }

  private startPiece (peer: Peer): PieceProgress | undefined {
    const meta = this.meta!
    if (!this.pool!.available) return undefined
    const index = pickRarestPiece({
      pieceCount: meta.pieceCount,
      availability: this.availability,
      random: this.init.parts.random,
      wanted: (i) => !this.have.get(i) && !this.inProgress.has(i) && this.peerHas(peer, i) &&
        !(this.failedSenders.get(i)?.has(peer.address) && this.someoneElseHas(peer, i))
    })
    if (index < 0) return undefined
    const length = pieceLengthOf(meta, index)
    const blockCount = Math.ceil(length / BLOCK_SIZE)
    const piece: PieceProgress = {
      index,
      length,
      blockCount,
      buffer: this.pool!.acquire()!,
      requested: new Uint8Array(blockCount),
      received: new Uint8Array(blockCount),
      senders: new Array<string | undefined>(blockCount),
      charges: new Array<BlockCharge | undefined>(blockCount),
      receivedCount: 0,
      cursor: 0,
      verifying: false
    }
    this.inProgress.set(index, piece)
    return piece
  }

  private someoneElseHas (peer: Peer, index: number): boolean {
    for (const other of this.peers.values()) if (other !== peer && this.peerHas(other, index)) return true
    return false
  }

  /** Endgame: every missing piece is already on the way; ask a second peer for blocks still outstanding. */
  private endgameBlock (peer: Peer): { piece: PieceProgress; block: number } | undefined {
    if (!this.endgame) return undefined
    for (const piece of this.inProgress.values()) {
      if (piece.verifying || !this.peerHas(peer, piece.index)) continue
      for (let block = 0; block < piece.blockCount; block++) {
        if (piece.received[block] || piece.requested[block]! >= 2) continue
        if (peer.outstanding.has(this.blockKey(piece.index, block))) continue
        this.endgameRequests++
        return { piece, block }
      }
    }
    return undefined
  }

  private onBlock (peer: Peer, index: number, offset: number, data: Uint8Array): void {
    const key = this.blockKey(index, offset / BLOCK_SIZE)
    if (offset % BLOCK_SIZE !== 0 || !peer.outstanding.delete(key)) {
      this.wasted += data.length
      return
    }
    peer.recordDownload(data.length)
    this.downloadSample += data.length
    this.downloaded += data.length
    const piece = this.inProgress.get(index)
    const block = offset / BLOCK_SIZE
    if (!piece) { this.wasted += data.length; return }
    piece.requested[block]!--
    const expectedLength = Math.min(BLOCK_SIZE, piece.length - offset)
    if (data.length !== expectedLength) {
      this.releaseBlockState(piece, block)
      this.dropPeer(peer, `block of ${data.length} bytes, expected ${expectedLength}`)
      return
    }
    if (piece.received[block]) {
      this.wasted += data.length
    } else {
      piece.buffer.set(data, offset)
      piece.received[block] = 1
      piece.senders[block] = peer.address
      if (this.market) piece.charges[block] = this.market.chargeFor(peer)
      piece.receivedCount++
      if (piece.requested[block]! > 0) this.cancelDuplicates(peer, piece, block)
      if (piece.receivedCount === piece.blockCount) {
        const verification = this.verifyPiece(piece)
        this.verifications.add(verification)
        void verification.finally(() => this.verifications.delete(verification))
      }
    }
    this.fillRequests(peer)
  }

  private cancelDuplicates (receivedFrom: Peer, piece: PieceProgress, block: number): void {
    const key = this.blockKey(piece.index, block)
    for (const peer of this.peers.values()) {
      if (peer === receivedFrom || !peer.outstanding.delete(key)) continue
      piece.requested[block]!--
      const offset = block * BLOCK_SIZE
      peer.wire.cancel(piece.index, offset, Math.min(BLOCK_SIZE, piece.length - offset))
    }
  }

  private async verifyPiece (piece: PieceProgress): Promise<void> {
    const meta = this.meta!
    piece.verifying = true
    const data = piece.buffer.subarray(0, piece.length)
    const expected = meta.pieceHashes.subarray(piece.index * 20, piece.index * 20 + 20)
    let valid: boolean | undefined
    // A hash thread that dies (it is restarted) says nothing about the data: try once more, and if
    // hashing still fails, fetch the piece again without blaming its senders.
    for (let attempt = 1; attempt <= 2 && valid === undefined; attempt++) {
      try {
        valid = await this.init.hasher.verify(data, expected)
      } catch (err) {
        this.log.error('hashing failed', { infoHash: this.infoHash, piece: piece.index, attempt, error: errorMessage(err) })
      }
    }
    if (this.destroyed || this.inProgress.get(piece.index) !== piece) return
    if (valid === undefined) return this.resetPiece(piece)
    if (!valid) return this.onHashFailure(piece)
    try {
      await this.storage!.writePiece(piece.index, data)
      await this.init.beforeVerified?.(piece.index)
    } catch (err) {
      this.fail(`cannot write piece ${piece.index}: ${errorMessage(err)}`)
      return
    }
    if (this.destroyed) return
    this.inProgress.delete(piece.index)
    this.pool!.release(piece.buffer)
    this.failedSenders.delete(piece.index)
    this.have.set(piece.index, true)
    this.haveCount++
    this.piecesDownloaded++
    if (this.market) this.market.verified(contributionsOf(piece))
    this.emit('piece', piece.index, [...new Set(piece.senders)])
    for (const peer of this.peers.values()) {
      peer.wire.have(piece.index)
      if (peer.activePiece === piece.index) peer.activePiece = undefined
    }
    if (this.complete) this.onComplete()
    else for (const peer of this.peers.values()) this.fillRequests(peer)
  }

  private onHashFailure (piece: PieceProgress): void {
    this.hashFailures++
    this.wasted += piece.length
    const senders = [...new Set(piece.senders.filter((s): s is string => s !== undefined))]
    this.log.warn('piece failed its hash check', { infoHash: this.infoHash, piece: piece.index, senders })
    this.emit('hash-failure', piece.index, senders)
    const failed = this.failedSenders.get(piece.index) ?? new Set<string>()
    this.failedSenders.set(piece.index, failed)
    for (const address of senders) {
      failed.add(address)
      const strikes = (this.strikes.get(address) ?? 0) + 1
      this.strikes.set(address, strikes)
      if (strikes >= this.init.settings.banAfterHashFailures) this.ban(address, `${strikes} pieces failed their hash check`)
    }
    this.resetPiece(piece)
  }

  /** Forgets every block of a piece, so it is fetched again from scratch. */
  private resetPiece (piece: PieceProgress): void {
    piece.received.fill(0)
    piece.requested.fill(0)
    piece.senders.fill(undefined)
    piece.charges.fill(undefined)
    piece.receivedCount = 0
    piece.cursor = 0
    piece.verifying = false
    // Blocks still requested from anyone are no longer tracked for this attempt.
    for (const peer of this.peers.values()) {
      for (let block = 0; block < piece.blockCount; block++) peer.outstanding.delete(this.blockKey(piece.index, block))
      if (peer.activePiece === piece.index) peer.activePiece = undefined
    }
    for (const peer of this.peers.values()) this.fillRequests(peer)
  }

  private isBanned (address: string): boolean {
    return this.bannedAddresses.has(banKeyOf(address))
  }

  private ban (address: string, reason: string): void {
    this.bannedAddresses.set(banKeyOf(address), true)
    const peer = this.peers.get(address)
    if (peer?.peerId) this.bannedPeerIds.set(peer.peerId, true)
    if (peer?.listenAddress) this.bannedAddresses.set(banKeyOf(peer.listenAddress), true)
    this.candidates.delete(address)
    // Its blocks in unfinished pieces would only fail those pieces later: drop them now.
    for (const piece of this.inProgress.values()) {
      if (piece.verifying) continue
      for (let block = 0; block < piece.blockCount; block++) {
        if (piece.senders[block] !== address) continue
        piece.senders[block] = undefined
        piece.charges[block] = undefined
        piece.received[block] = 0
        piece.receivedCount--
        if (block < piece.cursor) piece.cursor = block
      }
    }
    this.networkLog.warn(address, 'peer banned', { infoHash: this.infoHash, reason })
    this.emit('ban', address, reason)
    if (peer) this.dropPeer(peer, reason)
  }

  private onComplete (): void {
    this.completedAt = Date.now()
    this.state = 'seeding'
    this.log.info('download complete', { infoHash: this.infoHash, name: this.name })
    this.discovery?.complete()
    this.emit('done')
    this.emit('state', this.state)
    for (const peer of this.peers.values()) {
      peer.wire.uninterested()
      this.releaseRequests(peer)
    }
  }

  private releaseRequests (peer: Peer): void {
    for (const key of peer.outstanding) {
      const index = Math.floor(key / this.blocksPerPiece)
      const piece = this.inProgress.get(index)
      if (piece) this.releaseBlockState(piece, key - index * this.blocksPerPiece)
    }
    peer.outstanding.clear()
    peer.activePiece = undefined
  }

  private releaseBlock (peer: Peer, index: number, offset: number): void {
    const key = this.blockKey(index, offset / BLOCK_SIZE)
    if (!peer.outstanding.delete(key)) return
    const piece = this.inProgress.get(index)
    if (piece) this.releaseBlockState(piece, offset / BLOCK_SIZE)
  }

  private releaseBlockState (piece: PieceProgress, block: number): void {
    if (piece.requested[block]! > 0) piece.requested[block]!--
    if (block < piece.cursor) piece.cursor = block
  }

  private abandonPiece (piece: PieceProgress): void {
    if (piece.verifying) return
    this.inProgress.delete(piece.index)
    this.pool?.release(piece.buffer)
  }

  // ---------------------------------------------------------------- uploading

  private onRequest (peer: Peer, request: UploadRequest): void {
    const meta = this.meta
    const { index, offset, length } = request
    if (!meta || index < 0 || index >= meta.pieceCount || !this.have.get(index) || offset < 0 || length <= 0 || length > MAX_REQUEST_LENGTH ||
        offset + length > pieceLengthOf(meta, index)) {
      request.respond(new Error('invalid request'))
      return
    }
    if (peer.uploadQueue.length >= MAX_UPLOAD_QUEUE) {
      request.respond(new Error('too many requests'))
      return
    }
    peer.uploadQueue.push(request)
    void this.pumpUploads(peer)
  }

  /**
   * The peer no longer wants a block it asked for: drop it from the queue. Left there, it would be
   * read, metered and charged though never sent, and its answer would take the place of the peer's
   * next request for the same block (the wire matches answers by piece, offset and length), which
   * then waits for the peer's request timeout.
   */
  private onCancel (peer: Peer, index: number, offset: number, length: number): void {
    const at = peer.uploadQueue.findIndex((request) => request.index === index && request.offset === offset && request.length === length)
    if (at >= 0) peer.uploadQueue.splice(at, 1)
  }

  /** Sends queued blocks while the socket has room and the rate limits allow. */
  private async pumpUploads (peer: Peer): Promise<void> {
    if (peer.uploadPumping) return
    peer.uploadPumping = true
    try {
      while (peer.uploadQueue.length > 0 && !this.destroyed && this.peers.get(peer.address) === peer) {
        if (peer.wire.amChoking) { peer.uploadQueue.length = 0; break }
        if (peer.wire.readableLength + peer.socket.writableLength > UPLOAD_BUFFER_BYTES) {
          peer.waitingForDrain = true
          break
        }
        const request = peer.uploadQueue[0]!
        const delay = Math.max(this.uploadLimiter.delayFor(request.length), peer.uploadShare.delayFor(request.length))
        if (delay > 0) {
          peer.uploadStarved = true
          // A share can be tiny now and large at the next tick (a higher bid finished): look again
          // soon rather than when today's rate would allow.
          setTimeout(() => { void this.pumpUploads(peer) }, Math.min(delay, MAX_UPLOAD_WAIT_MS)).unref()
          break
        }
        peer.uploadQueue.shift()
        let piece: Buffer
        try {
          piece = await this.loadPiece(request.index)
        } catch (err) {
          this.log.warn('cannot read piece for upload', { infoHash: this.infoHash, piece: request.index, error: errorMessage(err) })
          request.respond(err as Error)
          continue
        }
        this.uploadLimiter.consume(request.length)
        peer.uploadShare.consume(request.length)
        const block = piece.subarray(request.offset, request.offset + request.length)
        holdForSend(block)
        request.respond(null, block)
        this.market?.sent(peer, request.length)
        peer.recordUpload(request.length)
        this.uploadSample += request.length
        this.uploaded += request.length
      }
    } finally {
      peer.uploadPumping = false
    }
  }

  /**
   * Nobody has asked for a piece in a while: the cached pieces and spare buffers go back (pieces
   * are read again from the OS's page cache when wanted), so a burst of uploads, or an attack,
   * leaves no lasting footprint. libtorrent expires its cache the same way.
   */
  private releaseUploadMemory (): void {
    const cached = this.cache?.calculatedSize ?? 0
    // Checked every tick once expired: nothing held, nothing to do.
    if (cached === 0 && (this.uploadBuffers?.spareBytes ?? 0) === 0) return
    // Emptying the cache hands its buffers to the spare pool, which then lets them all go.
    this.cache?.clear()
    const spare = this.uploadBuffers?.releaseSpare() ?? 0
    noteReleasedMemory(Math.max(cached, spare))
  }

  private loadPiece (index: number): Promise<Buffer> {
    this.lastPieceLoadAt = Date.now()
    const cached = this.cache!.get(index)
    if (cached) return Promise.resolve(cached)
    let pending = this.cacheLoads.get(index)
    if (!pending) {
      const length = pieceLengthOf(this.meta!, index)
      const buffer = length === this.meta!.pieceLength ? this.uploadBuffers!.take() : Buffer.allocUnsafeSlow(length)
      pending = this.storage!.readPiece(index, buffer).then(() => {
        this.cache!.set(index, buffer)
        return buffer
      }).finally(() => this.cacheLoads.delete(index))
      this.cacheLoads.set(index, pending)
    }
    return pending
  }

  // ---------------------------------------------------------------- choking

  /** Between rechokes, a free slot goes to an interested peer at once rather than 10 s later. */
  private maybeFillSlots (preferred?: Peer): void {
    if (!this.meta || this.haveCount === 0) return
    // In the market a free slot's kind depends on bids (a newcomer may be a bidder): the choker decides, now.
    if (this.market) return this.requestRechoke()
    const { slots, optimisticSlots } = this.init.settings.choker
    let unchoked = 0
    for (const peer of this.peers.values()) if (!peer.wire.amChoking && peer.wire.peerInterested) unchoked++
    const waiting = [...this.peers.values()].filter((peer) => peer.wire.amChoking && peer.wire.peerInterested)
    if (preferred && waiting.includes(preferred)) waiting.unshift(...waiting.splice(waiting.indexOf(preferred), 1))
    for (const peer of waiting) {
      if (unchoked >= slots + optimisticSlots) break
      peer.wire.unchoke()
      peer.slotKind = 'regular'
      unchoked++
    }
  }

  private rechoke (now: number): void {
    this.lastRechokeAt = now
    // The rechoke is synchronous: its elapsed time on this thread is its CPU time (process.cpuUsage
    // would add the hash workers' and file threads' time).
    const startedAt = performance.now()
    const snapshots: PeerSnapshot[] = []
    for (const peer of this.peers.values()) {
      snapshots.push({
        id: peer.address,
        interested: peer.wire.peerInterested,
        unchoked: !peer.wire.amChoking,
        downloadRate: peer.downloadRate,
        uploadRate: peer.uploadRate,
        connectedAt: peer.connectedAt,
        snubbed: peer.isSnubbing(now, this.init.settings.snubTimeoutMs),
        ...(this.market ? { market: this.market.snapshot(peer) } : {})
      })
    }
    const selling = this.market?.selling === true && this.haveCount > 0
    const decision = this.init.parts.chokeAlgorithm(snapshots, this.chokerState, {
      now,
      seeding: this.complete,
      settings: this.init.settings.choker,
      random: this.init.parts.random,
      ...(selling ? { market: this.market!.auction() } : {})
    })
    this.chokerState = decision.state
    // Rates and ranks go out before the unchokes they come with.
    this.market?.applyQuotes(decision)
    for (const peer of this.peers.values()) {
      const slot = decision.unchoke.get(peer.address)
      peer.slotKind = slot
      if (slot) peer.wire.unchoke()
      else if (!peer.wire.amChoking) {
        peer.wire.choke()
        peer.uploadQueue.length = 0
      }
    }
    this.lastRechokeMicros = Math.round((performance.now() - startedAt) * 1000)
    this.shareUpload()
  }

  /**
   * In the market, a capped upload rate is split between the classes (src/market/bandwidth.ts): the
   * free class (regular and optimistic slots) keeps its reserved share and paid slots get the rest,
   * and what one class leaves unused goes to the other. A peer that was held back since the last
   * tick asks for everything; one that was not asks for a little more than it took.
   */
  private shareUpload (): void {
    const limits = [this.init.globalUpload.bytesPerSecond, this.uploadBucket.bytesPerSecond].filter((rate) => rate > 0)
    const capacity = limits.length > 0 ? Math.min(...limits) : 0
    const sharing = this.market?.selling === true && capacity > 0
    const demands: UploadDemand[] = []
    for (const peer of this.peers.values()) {
      if (!sharing || !peer.slotKind || peer.wire.amChoking) {
        peer.uploadShare.setRate(0)
        continue
      }
      const demand = peer.uploadStarved ? capacity : peer.lastTickUpload * 1.25 + BLOCK_SIZE
      demands.push({ id: peer.address, kind: peer.slotKind, demand, rate: this.market!.paidRate(peer) })
      peer.uploadStarved = false
    }
    if (demands.length === 0) return
    const shares = shareUpload(capacity, demands, this.market!.auction().reservedShare)
    for (const { id } of demands) {
      const peer = this.peers.get(id)!
      const before = peer.uploadShare.bytesPerSecond
      peer.uploadShare.setRate(Math.max(1, Math.round(shares.get(id) ?? 0)))
      if (peer.uploadShare.bytesPerSecond > before && peer.uploadQueue.length > 0) void this.pumpUploads(peer)
    }
  }

  // ---------------------------------------------------------------- periodic work

  private onTick (): void {
    const now = Date.now()
    const elapsed = Math.max(0.001, (now - this.lastTickAt) / 1000)
    this.lastTickAt = now
    this.downloadRate += 0.25 * (this.downloadSample / elapsed - this.downloadRate)
    this.uploadRate += 0.25 * (this.uploadSample / elapsed - this.uploadRate)
    this.downloadSample = 0
    this.uploadSample = 0
    const { requestTimeoutMs, rechokeIntervalMs } = this.init.settings
    for (const peer of [...this.peers.values()]) {
      if (now - peer.wire.lastReceivedAt > SILENT_TIMEOUT_MS) {
        this.dropPeer(peer, 'silent for five minutes')
        continue
      }
      peer.updateRates(elapsed)
      peer.queueDepth = Math.max(MIN_QUEUE_DEPTH, Math.min(MAX_QUEUE_DEPTH, Math.ceil(peer.downloadRate * REQUEST_QUEUE_SECONDS / BLOCK_SIZE)))
      if (peer.outstanding.size > 0 && now - Math.max(peer.lastBlockAt, peer.lastRequestAt) > requestTimeoutMs) {
        this.log.debug('requests timed out', { infoHash: this.infoHash, peer: peer.address, outstanding: peer.outstanding.size })
        for (const key of peer.outstanding) {
          const index = Math.floor(key / this.blocksPerPiece)
          const block = key - index * this.blocksPerPiece
          const piece = this.inProgress.get(index)
          if (piece) peer.wire.cancel(index, block * BLOCK_SIZE, Math.min(BLOCK_SIZE, piece.length - block * BLOCK_SIZE))
        }
        this.releaseRequests(peer)
      }
      this.fillRequests(peer)
    }
    if (now - this.lastRechokeAt >= rechokeIntervalMs) this.rechoke(now)
    else this.shareUpload()
    if (now - this.lastPieceLoadAt > PIECE_CACHE_EXPIRY_MS) this.releaseUploadMemory()
    if (this.market && !this.complete) {
      if (this.market.autoBidding) this.market.autoBid(this.observation())
      this.market.guard(this.chargedInFlight())
    }
    this.connectMore()
  }

  /** What auto-bid needs to see: the rates by source, and how much of what is missing only seeds have. */
  private observation (): TorrentObservation {
    let paidRate = 0
    let seedRate = 0
    let seeds = 0
    for (const peer of this.peers.values()) {
      if (this.market?.chargeFor(peer)) paidRate += peer.downloadRate
      if (peer.seed) {
        seedRate += peer.downloadRate
        seeds++
      }
    }
    let missing = 0
    let onlySeeds = 0
    const pieceCount = this.meta?.pieceCount ?? 0
    for (let i = 0; i < pieceCount; i++) {
      if (this.have.get(i)) continue
      missing++
      // Availability counts the peers that are not seeds.
      if (seeds > 0 && this.availability[i] === 0) onlySeeds++
    }
    return { bytesLeft: this.bytesLeft(), downloadRate: this.downloadRate, paidRate, seedRate, onlyFromSeeds: missing > 0 ? onlySeeds / missing : 0 }
  }

  /**
   * What the blocks in flight will cost once their pieces verify, as Σ bytes × rate per payee:
   * blocks received but not yet verified, blocks asked of peers that charge for them, and the next
   * seconds of blocks at each such peer's rate (more may be asked before the market looks again).
   */
  private chargedInFlight (): Map<string, bigint> {
    const byPayee = new Map<string, bigint>()
    const add = (charge: BlockCharge, bytes: number): void => { byPayee.set(charge.payee, (byPayee.get(charge.payee) ?? 0n) + BigInt(bytes) * charge.rate) }
    for (const piece of this.inProgress.values()) {
      for (const charge of piece.charges) if (charge) add(charge, BLOCK_SIZE)
    }
    for (const peer of this.peers.values()) {
      const charge = this.market?.chargeFor(peer)
      if (charge) add(charge, peer.outstanding.size * BLOCK_SIZE + Math.ceil(peer.downloadRate * CHARGE_HORIZON_SECONDS))
    }
    return byPayee
  }

  // ---------------------------------------------------------------- content

  private async setupContent (meta: TorrentMeta, resumeBitfield: Uint8Array | undefined): Promise<void> {
    const { settings } = this.init
    this.blocksPerPiece = Math.ceil(meta.pieceLength / BLOCK_SIZE)
    this.have = new BitField(meta.pieceCount)
    this.haveCount = 0
    this.availability = new Uint16Array(meta.pieceCount)
    this.storage = new PieceStorage(meta, this.directory)
    this.pool = new BufferPool(meta.pieceLength, Math.max(4, Math.floor(settings.maxInFlightBytes / meta.pieceLength)))
    const cacheBytes = Math.max(settings.pieceCacheBytes, meta.pieceLength)
    const uploadBuffers = new UploadBufferPool(meta.pieceLength, Math.ceil(cacheBytes / meta.pieceLength))
    this.uploadBuffers = uploadBuffers
    this.cache = new LRUCache<number, Buffer>({
      maxSize: cacheBytes,
      sizeCalculation: (buffer) => buffer.length,
      dispose: (buffer) => uploadBuffers.retire(buffer)
    })
    this.state = 'checking'
    this.emit('state', this.state)
    try {
      const resumable = resumeBitfield !== undefined && await this.storage.filesPresent()
      if (resumable) {
        this.loadBitfield(resumeBitfield)
        const recheck = this.init.recheckBitfield ? new BitField(Buffer.from(this.init.recheckBitfield)) : undefined
        if (recheck) await this.checkExistingData(meta, (index) => recheck.get(index) && !this.have.get(index))
      } else if (!await this.storage.nothingPresent()) {
        await this.checkExistingData(meta)
      }
      this.piecesFromResume = this.haveCount
      if (this.destroyed) return
      if (!this.complete) await this.storage.allocate()
    } catch (err) {
      this.fail(`cannot prepare files in ${this.directory}: ${errorMessage(err)}`)
      return
    }
    this.state = this.pausedByUser ? 'paused' : this.runningState()
    this.emit('state', this.state)
    if (this.complete) this.emit('done')
  }

  private loadBitfield (bits: Uint8Array): void {
    const meta = this.meta!
    const stored = new BitField(Buffer.from(bits))
    for (let i = 0; i < meta.pieceCount; i++) {
      if (stored.get(i)) {
        this.have.set(i, true)
        this.haveCount++
      }
    }
  }

  /** Hashes what is already on disk (every piece, or those `wanted`), on the hash threads, a few pieces at a time. */
  private async checkExistingData (meta: TorrentMeta, wanted?: (index: number) => boolean): Promise<void> {
    const indices = [...Array(meta.pieceCount).keys()].filter((index) => wanted?.(index) ?? true)
    if (indices.length === 0) return
    this.log.info('checking existing data', { infoHash: this.infoHash, pieces: indices.length })
    this.checkedPieces = 0
    let next = 0
    const before = this.haveCount
    const worker = async (): Promise<void> => {
      const buffer = this.pool!.acquire()
      if (!buffer) return
      try {
        while (next < indices.length && !this.destroyed) {
          const index = indices[next++]!
          const data = await this.storage!.readPiece(index, buffer)
          const ok = await this.init.hasher.verify(data, meta.pieceHashes.subarray(index * 20, index * 20 + 20))
          if (ok) {
            this.have.set(index, true)
            this.haveCount++
          }
          this.checkedPieces++
        }
      } finally {
        this.pool!.release(buffer)
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()])
    this.log.info('check finished', { infoHash: this.infoHash, verified: this.haveCount - before, pieces: indices.length })
  }

  private fail (message: string): void {
    this.error = message
    this.state = 'error'
    this.log.error('torrent failed', { infoHash: this.infoHash, error: message })
    this.leaveSwarm()
    this.emit('state', this.state)
  }

  // ---------------------------------------------------------------- reporting

  status (): TorrentStatus {
    const meta = this.meta
    return {
      infoHash: this.infoHash,
      name: this.name,
      state: this.state,
      error: this.error,
      directory: this.directory,
      length: meta?.length ?? null,
      pieceLength: meta?.pieceLength ?? null,
      pieceCount: meta?.pieceCount ?? null,
      verifiedPieces: this.haveCount,
      checkedPieces: this.checkedPieces,
      progress: meta ? this.haveCount / meta.pieceCount : 0,
      downloaded: this.downloaded,
      uploaded: this.uploaded,
      wasted: this.wasted,
      downloadRate: Math.round(this.downloadRate),
      uploadRate: Math.round(this.uploadRate),
      peers: this.peers.size,
      seeds: [...this.peers.values()].filter((peer) => peer.seed).length,
      knownPeers: this.candidates.size,
      uploadLimit: this.uploadBucket.bytesPerSecond,
      downloadLimit: this.downloadBucket.bytesPerSecond,
      hashFailures: this.hashFailures,
      bannedPeers: [...this.bannedAddresses.keys()],
      piecesFromResume: this.piecesFromResume,
      piecesDownloaded: this.piecesDownloaded,
      endgameRequests: this.endgameRequests,
      startedAt: this.startedAt,
      completedAt: this.completedAt,
      lastRechokeMicros: this.lastRechokeMicros,
      files: meta ? meta.files.map((file) => ({ path: file.path, length: file.length })) : []
    }
  }

  peerList (): PeerInfo[] {
    const pieceCount = this.meta?.pieceCount ?? 0
    return [...this.peers.values()].map((peer) => {
      let pieces = 0
      if (peer.seed) pieces = pieceCount
      else for (let i = 0; i < pieceCount; i++) if (peer.wire.peerPieces.get(i)) pieces++
      return {
        address: peer.address,
        listenAddress: peer.listenAddress ?? null,
        peerId: peer.peerId,
        client: peer.client,
        direction: peer.direction,
        downloadRate: Math.round(peer.downloadRate),
        uploadRate: Math.round(peer.uploadRate),
        downloaded: peer.downloadedBytes,
        uploaded: peer.uploadedBytes,
        amChoking: peer.wire.amChoking,
        peerChoking: peer.wire.peerChoking,
        amInterested: peer.wire.amInterested,
        peerInterested: peer.wire.peerInterested,
        slot: peer.slotKind ?? null,
        progress: pieceCount ? pieces / pieceCount : 0,
        outstandingRequests: peer.outstanding.size,
        market: this.market?.view(peer) ?? null
      }
    })
  }
}

function nextUnrequested (piece: PieceProgress): number {
  while (piece.cursor < piece.blockCount && (piece.requested[piece.cursor] || piece.received[piece.cursor])) piece.cursor++
  return piece.cursor < piece.blockCount ? piece.cursor : -1
}

function formatHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

function pexOf (peer: Peer): PexExtension | undefined {
  return peer.wire.ut_pex as PexExtension | undefined
}

/** Which wallet is owed for which bytes of a verified piece, at which rate: what the market pays for. */
function contributionsOf (piece: PieceProgress): Contribution[] {
  // A quote is one object for as long as it holds, so blocks bought under it group by identity.
  const totals = new Map<BlockCharge, number>()
  for (let block = 0; block < piece.blockCount; block++) {
    const charge = piece.charges[block]
    if (!charge) continue
    totals.set(charge, (totals.get(charge) ?? 0) + Math.min(BLOCK_SIZE, piece.length - block * BLOCK_SIZE))
  }
  return [...totals].map(([charge, bytes]) => ({ charge, bytes }))
}
