import utMetadata from 'ut_metadata'
import utPex from 'ut_pex'
import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import { NetworkLog } from '../util/network-log.js'
import { announceTorrent } from './announce.js'
import { PeerBans } from './bans.js'
import { contributionsOf, sendersOf, type PieceProgress } from './blocks.js'
import { Choking } from './choking.js'
import { PeerConnections } from './connections.js'
import { contentParts, type ContentParts } from './content-parts.js'
import { PeerPieces } from './peer-pieces.js'
import { TorrentEvents, type TorrentEvent, type TorrentState } from './events.js'
import type { BlockCharge, MarketPort } from './market-port.js'
import { chargedInFlight, observe } from './market-feed.js'
import { metaFromPeers, type TorrentMeta } from './metainfo.js'
import type { Peer } from './peer.js'
import { routePeerMessages } from './peer-wiring.js'
import { PexGossip } from './pex.js'
import { TorrentLimits } from './rate-limiter.js'
import { PeerDiscipline } from './discipline.js'
import type { TorrentInit } from './torrent-init.js'
import { peerInfoOf, statusOf, type PeerInfo, type TorrentStatus } from './torrent-status.js'
import { TransferStats } from './transfer-stats.js'
import { PieceVerifier } from './verification.js'

export type { TorrentEvent, TorrentState } from './events.js'
export type { TorrentInit } from './torrent-init.js'
export type { PeerInfo, TorrentStatus } from './torrent-status.js'

const TICK_MS = 1000
/** A peer that sends nothing at all (not even a keep-alive, due every two minutes) for this long is dropped. */
const SILENT_TIMEOUT_MS = 300_000

/**
 * One torrent: its lifecycle, the wiring between a peer's wire and the parts that own the state
 * (connections, piece requests, verification, uploads, choking), and the tick that drives them.
 * Sockets are opened by the Engine; everything after the handshake happens here.
 */
export class Torrent<Market extends MarketPort = MarketPort> {
  readonly infoHash: string
  meta: TorrentMeta | undefined
  state: TorrentState
  error: string | null = null
  readonly directory: string
  readonly events = new TorrentEvents()
  /** The bandwidth market, when the daemon has a wallet. */
  readonly market: Market | undefined
  private readonly bans = new PeerBans()
  private readonly peers: PeerConnections
  private readonly stats = new TransferStats()
  private readonly verifier: PieceVerifier
  private readonly choking: Choking
  private readonly gossip = new PexGossip<Peer>(() => this.peers.values(), (peer) => this.peers.isCurrent(peer))
  private readonly peerPieces = new PeerPieces({ data: () => this.data, drop: (peer, reason) => this.dropPeer(peer, reason) })
  private data: ContentParts | undefined
  private ownNetworkLog: NetworkLog | undefined
  private discovery: ReturnType<typeof announceTorrent>
  private tick: NodeJS.Timeout | undefined
  private lastTickAt = Date.now()
  private readonly limits: TorrentLimits
  private readonly discipline: PeerDiscipline
  private piecesDownloaded = 0
  private readonly startedAt = Date.now()
  private completedAt: number | null = null
  private destroyed = false
  private destroying: Promise<void> | undefined
  private fetchingMetadata = false
  /** The user's pause, kept apart from `state` so that checking data does not forget it. */
  private pausedByUser = false

  constructor (private readonly init: TorrentInit<Market>) {
    const { settings } = init
    this.infoHash = init.infoHash
    this.directory = init.directory
    this.meta = init.meta
    this.state = init.meta ? 'checking' : 'metadata'
    this.limits = new TorrentLimits(init.globalUpload, init.globalDownload, init.uploadLimit, init.downloadLimit)
    this.peers = new PeerConnections({
      bans: this.bans,
      ownPeerId: init.peerId,
      listenPort: init.listenPort,
      maxPeers: settings.maxPeersPerTorrent,
      maxHalfOpen: settings.maxHalfOpenConnections,
      open: () => !this.destroyed && !this.pausedByUser,
      calling: () => !this.destroyed && !this.pausedByUser && this.tick !== undefined,
      connect: init.connect,
      drop: (peer, reason) => this.dropPeer(peer, reason)
    })
    this.discipline = new PeerDiscipline({
      bans: this.bans,
      peers: this.peers,
      networkLog: () => this.networkLog,
      infoHash: init.infoHash,
      banAfterHashFailures: settings.banAfterHashFailures,
      banned: (address, reason) => {
        this.data?.requests.forgetBlocksFrom(address)
        this.emit({ type: 'peer-banned', address, reason })
      },
      drop: (peer, reason) => this.dropPeer(peer, reason)
    })
    this.verifier = new PieceVerifier({
      hasher: init.hasher,
      log: init.logger,
      infoHash: init.infoHash,
      beforeVerified: init.beforeVerified,
      wanted: (piece) => !this.destroyed && this.data?.requests.isCurrent(piece) === true
    })
    for (const address of init.magnet?.peerAddresses ?? []) this.addPeerAddress(address)
    this.market = init.market?.({
      requestRechoke: () => this.requestRechoke(),
      verifiedPieces: () => this.data?.content.bitfield.buffer
    })
    this.choking = new Choking({
      peers: this.peers,
      settings,
      parts: init.parts,
      market: this.market,
      uploadLimits: this.limits.uploadBuckets,
      haveAny: () => (this.data?.content.haveCount ?? 0) > 0,
      seeding: () => this.complete,
      active: () => !this.destroyed && this.meta !== undefined,
      resumeUploads: (peer) => { void this.data?.uploads.pump(peer) }
    })
  }

  /** Bytes still to verify (an estimate that counts the last piece as whole; large before metadata). */
  bytesLeft (): number {
    return this.data?.content.bytesLeft() ?? Number.MAX_SAFE_INTEGER
  }

  /** A bid or a debt changed: rechoke at once (at most once a turn of the event loop), not at the next tick. */
  requestRechoke (): void {
    this.choking.requestRechoke()
  }

  get name (): string {
    return this.meta?.name ?? this.init.magnet?.name ?? this.infoHash
  }

  get complete (): boolean {
    return this.data?.content.complete ?? false
  }

  private get log (): Logger {
    return this.init.logger
  }

  /** For lines a peer can cause: rate-limited per peer and in total. */
  private get networkLog (): NetworkLog {
    this.ownNetworkLog ??= this.init.parts.networkLog ?? new NetworkLog(this.init.logger)
    return this.ownNetworkLog
  }

  private emit (event: TorrentEvent): void {
    this.events.emit(event)
  }

  private setState (state: TorrentState): void {
    this.state = state
    this.emit({ type: 'state', state, error: this.error })
  }

  // ---------------------------------------------------------------- lifecycle

  /** Prepares storage (checking data already on disk unless resume data vouches for it) and joins the swarm. */
  async start (): Promise<void> {
    if (this.meta) await this.setupContent(this.meta, this.init.resumeBitfield)
    if (this.destroyed) return
    this.joinSwarm()
  }

  /** Stops all transfer; resolves once pieces already being verified are settled. */
  async pause (): Promise<void> {
    if (this.pausedByUser || this.destroyed) return
    this.pausedByUser = true
    this.leaveSwarm()
    // A check in progress finishes first; it then settles on 'paused'.
    this.setState(this.state !== 'checking' && this.state !== 'error' ? 'paused' : this.state)
    await this.verifier.settle()
  }

  resume (): void {
    if (!this.pausedByUser || this.destroyed) return
    this.pausedByUser = false
    if (this.state === 'checking' || this.state === 'error') return
    this.setState(this.runningState())
    this.joinSwarm()
  }

  private runningState (): TorrentState {
    return this.meta ? (this.complete ? 'seeding' : 'downloading') : 'metadata'
  }

  destroy (options: { deleteData?: boolean } = {}): Promise<void> {
    this.destroying ??= (async () => {
      this.leaveSwarm()
      await this.verifier.settle()
      this.destroyed = true
      this.data?.uploads.release()
      await this.data?.content.storage.close()
      if (options.deleteData) await this.data?.content.storage.deleteFiles()
    })()
    return this.destroying
  }

  setLimits (limits: { uploadLimit?: number; downloadLimit?: number }): void {
    this.limits.set(limits)
  }

  /** See TorrentContent.verifiedBitfield. */
  verifiedBitfield (): Buffer | undefined {
    return this.data?.content.verifiedBitfield()
  }

  /** See TorrentContent.durableBitfield: undefined before metadata and while checking. */
  async durableBitfield (): Promise<Buffer | undefined> {
    if (!this.data || this.state === 'checking') return undefined
    return this.data.content.durableBitfield()
  }

  /** A peer to call; `retryNow` when the user named it. Remembered while paused, called once running. */
  addPeerAddress (address: string, retryNow = false): void {
    if (!this.destroyed) this.peers.addAddress(address, retryNow)
  }

  private joinSwarm (): void {
    if (this.destroyed || this.pausedByUser || this.tick) return
    this.lastTickAt = Date.now()
    this.tick = setInterval(() => this.onTick(), TICK_MS)
    this.tick.unref()
    this.discovery = announceTorrent(this.init, this.meta, {
      peer: (address) => this.addPeerAddress(address),
      uploaded: () => this.stats.uploaded,
      downloaded: () => this.stats.downloaded,
      // Without metadata the size is unknown, but 0 would tell the tracker we are a seeder.
      left: () => this.data?.content.bytesLeft() ?? 16_384
    })
    this.peers.connectMore()
  }

  private leaveSwarm (): void {
    clearInterval(this.tick)
    this.tick = undefined
    this.discovery?.destroy()
    this.discovery = undefined
    for (const peer of [...this.peers.values()]) this.dropPeer(peer, 'leaving swarm')
    this.data?.requests.stop()
    // Paused, it serves nobody: its cached pieces go now, not on the next tick, which never comes.
    this.data?.uploads.release()
  }

  // ---------------------------------------------------------------- peers (called by the Engine)

  connectFailed (address: string): void {
    this.peers.connectFailed(address)
  }

  /** Whether a new connection may join: see PeerConnections.accepts. */
  acceptsPeer (peerId: string, address: string, direction: 'incoming' | 'outgoing'): boolean {
    return this.peers.accepts(peerId, address, direction)
  }

  /** The peer broke the protocol: see PeerDiscipline.misbehaved. */
  misbehaved (peer: Peer, what: string): void {
    this.discipline.misbehaved(peer, what)
  }

  /** Installs the extensions; must run before our handshake is sent. */
  prepareWire (wire: Peer['wire']): void {
    wire.extendedHandshake.v = 'bidtorrent/0.1.0'
    wire.extendedHandshake.p = this.init.listenPort()
    wire.use(utMetadata(this.meta?.infoBuffer))
    if (this.init.settings.pex && !(this.meta?.private ?? false)) wire.use(utPex())
    this.market?.prepareWire(wire)
  }

  /** Both handshakes are done: the peer's messages go to the parts that handle them. */
  attachPeer (peer: Peer): void {
    const { wire } = peer
    this.peers.add(peer)
    wire.setKeepAlive(true)
    routePeerMessages(peer, {
      peerPieces: this.peerPieces,
      choking: this.choking,
      requests: () => this.data?.requests,
      uploads: () => this.data?.uploads,
      block: (from, index, offset, data) => this.onBlock(from, index, offset, data),
      extendedHandshake: (from) => this.onExtendedHandshake(from),
      metadata: (torrentFile) => { void this.onMetadata(torrentFile) },
      pexAddress: (from, address) => this.peers.addFromPex(from, address),
      log: this.log
    })
    this.market?.attach(peer.address, wire)
    this.peerPieces.sendHaves(peer)
    this.log.debug('peer connected', { infoHash: this.infoHash, peer: peer.address, direction: peer.direction })
    this.emit({ type: 'peer-connected', address: peer.address })
  }

  removePeer (peer: Peer): void {
    if (!this.peers.remove(peer)) return
    this.market?.detach(peer.address)
    this.gossip.left(peer)
    this.data?.requests.release(peer)
    peer.uploadQueue.length = 0
    this.data?.availability.remove(peer)
    if (peer.slotKind) this.choking.fillSlots()
    this.peers.connectMore()
  }

  private dropPeer (peer: Peer, reason: string): void {
    this.log.debug('dropping peer', { infoHash: this.infoHash, peer: peer.address, reason })
    this.removePeer(peer)
    peer.wire.destroy()
    peer.socket.destroy()
  }

  private onExtendedHandshake (peer: Peer): void {
    const handshake = peer.wire.peerExtendedHandshake
    const port = typeof handshake.p === 'number' && handshake.p > 0 && handshake.p < 65536 ? handshake.p : undefined
    if (port && peer.direction === 'incoming') peer.listenAddress = `${formatHost(peer.host)}:${port}`
    this.gossip.joined(peer)
    if (!this.meta && !this.fetchingMetadata) {
      for (const other of this.peers.values()) (other.wire.ut_metadata as { fetch(): void } | undefined)?.fetch()
    }
  }

  private async onMetadata (torrentFile: Uint8Array): Promise<void> {
    if (this.meta || this.fetchingMetadata || this.destroyed) return
    this.fetchingMetadata = true
    try {
      const meta = await metaFromPeers(torrentFile, this.init.magnet?.announce ?? [])
      if (meta.infoHash !== this.infoHash) throw new Error('metadata does not match the info hash')
      this.meta = meta
      this.log.info('metadata received', { infoHash: this.infoHash, name: meta.name, length: meta.length })
      this.emit({ type: 'metadata', meta })
      for (const peer of this.peers.values()) (peer.wire.ut_metadata as { cancel(): void } | undefined)?.cancel()
      await this.setupContent(meta, undefined)
      for (const peer of [...this.peers.values()]) this.peerPieces.onMetadata(peer)
    } catch (err) {
      this.log.warn('bad metadata from peer', { infoHash: this.infoHash, error: errorMessage(err) })
      this.meta = undefined
      this.fetchingMetadata = false
    }
  }

  // ---------------------------------------------------------------- pieces

  private onBlock (peer: Peer, index: number, offset: number, data: Uint8Array): void {
    if (this.data) this.data.requests.onBlock(peer, index, offset, data)
    else this.stats.waste(data.length)
  }

  private async verifyPiece (piece: PieceProgress): Promise<void> {
    const { content, requests } = this.data!
    const verdict = await this.verifier.verify(content, piece)
    switch (verdict.kind) {
      case 'dropped': return
      case 'unhashed': return requests.restart(piece)
      case 'corrupt': return this.onHashFailure(piece)
      case 'unwritable': return this.fail(verdict.error)
      case 'verified': break
    }
    if (this.destroyed) return
    requests.finish(piece)
    content.markVerified(piece.index)
    this.piecesDownloaded++
    this.market?.verified(contributionsOf(piece))
    this.emit({ type: 'piece-verified', index: piece.index, senders: sendersOf(piece) })
    for (const peer of this.peers.values()) peer.wire.have(piece.index)
    if (this.complete) this.onComplete()
    else requests.fillAll()
  }

  private onHashFailure (piece: PieceProgress): void {
    this.stats.waste(piece.length)
    const senders = sendersOf(piece)
    this.log.warn('piece failed its hash check', { infoHash: this.infoHash, piece: piece.index, senders })
    this.emit({ type: 'hash-failed', index: piece.index, senders })
    this.data!.requests.failedFrom(piece, senders)
    this.discipline.hashFailed(senders)
    this.data!.requests.restart(piece)
  }

  private onComplete (): void {
    this.completedAt = Date.now()
    this.log.info('download complete', { infoHash: this.infoHash, name: this.name })
    this.discovery?.complete()
    this.setState('seeding')
    this.emit({ type: 'complete' })
    for (const peer of this.peers.values()) {
      peer.wire.uninterested()
      this.data?.requests.release(peer)
    }
  }

  // ---------------------------------------------------------------- periodic work

  private onTick (): void {
    const now = Date.now()
    const elapsed = Math.max(0.001, (now - this.lastTickAt) / 1000)
    this.lastTickAt = now
    this.stats.tick(elapsed)
    for (const peer of [...this.peers.values()]) {
      if (now - peer.wire.lastReceivedAt > SILENT_TIMEOUT_MS) {
        this.dropPeer(peer, 'silent for five minutes')
        continue
      }
      peer.updateRates(elapsed)
      this.data?.requests.tickPeer(peer, now, this.init.settings.requestTimeoutMs)
    }
    this.choking.tick(now)
    this.data?.uploads.expire(now)
    if (this.market && !this.complete) this.feedMarket(this.market)
    this.peers.connectMore()
  }

  /** Once a second while downloading: what auto-bid and the market's limits need to see. */
  private feedMarket (market: Market): void {
    const pieces = this.data ? [...this.data.requests.pieces()] : []
    const chargeFor = (peer: Peer): BlockCharge | undefined => market.chargeFor(peer.address)
    if (market.autoBidding) {
      market.autoBid(observe(this.peers.values(), chargeFor, this.data, this.bytesLeft(), this.stats.downloadRate))
    }
    market.guard(chargedInFlight(pieces, this.peers.values(), chargeFor))
  }

  // ---------------------------------------------------------------- content

  private async setupContent (meta: TorrentMeta, resume: Uint8Array | undefined): Promise<void> {
    const { init } = this
    const data = contentParts({
      meta, infoHash: this.infoHash, directory: this.directory, settings: init.settings, parts: init.parts, hasher: init.hasher, log: init.logger,
      peers: this.peers, stats: this.stats, downloadLimiter: this.limits.download, uploadLimiter: this.limits.upload, market: this.market,
      destroyed: () => this.destroyed,
      downloading: () => !this.destroyed && this.state === 'downloading',
      received: (piece) => { void this.verifyPiece(piece) },
      drop: (peer, reason) => this.dropPeer(peer, reason)
    })
    this.data = data
    this.setState('checking')
    try {
      await data.content.prepare(resume, this.init.recheckBitfield)
    } catch (err) {
      this.fail(`cannot prepare files in ${this.directory}: ${errorMessage(err)}`)
      return
    }
    if (this.destroyed) return
    this.setState(this.pausedByUser ? 'paused' : this.runningState())
    if (this.complete) this.emit({ type: 'complete' })
  }

  private fail (message: string): void {
    this.error = message
    this.log.error('torrent failed', { infoHash: this.infoHash, error: message })
    this.leaveSwarm()
    this.setState('error')
  }

  // ---------------------------------------------------------------- reporting

  status (): TorrentStatus {
    const { meta, data, stats } = this
    return statusOf({
      torrent: { infoHash: this.infoHash, name: this.name, state: this.state, error: this.error, directory: this.directory },
      meta, content: data?.content, requests: data?.requests, stats, peers: this.peers, bans: this.bans,
      hashFailures: this.verifier.hashFailures,
      uploadLimit: this.limits.uploadLimit,
      downloadLimit: this.limits.downloadLimit,
      piecesDownloaded: this.piecesDownloaded,
      startedAt: this.startedAt,
      completedAt: this.completedAt,
      lastRechokeMicros: this.choking.lastRechokeMicros
    })
  }

  peerList (): PeerInfo[] {
    const pieceCount = this.meta?.pieceCount ?? 0
    return [...this.peers.values()].map((peer) => peerInfoOf(peer, pieceCount, this.market))
  }
}

function formatHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}
