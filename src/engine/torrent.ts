import type { Logger } from 'winston'
import { UsageError, errorMessage } from '../util/errors.js'
import { NetworkLog } from '../util/network-log.js'
import { announceTorrent, type Announcer } from './announce.js'
import { contributionsOf, sendersOf, type PieceProgress } from './blocks.js'
import { pieceFailed } from './block-repair.js'
import type { PeerConnections } from './connections.js'
import { contentParts, type ContentParts } from './content-parts.js'
import { TorrentEvents, type TorrentState } from './events.js'
import type { FilePriority } from './file-selection.js'
import type { MarketPort } from './market-port.js'
import { metaFromPeers, type TorrentMeta } from './metainfo.js'
import { fetchPieceLayers } from './v2/layer-fetch.js'
import type { Peer } from './peer.js'
import { askForMetadata, installExtensions, learnListenAddress, routePeerMessages } from './peer-wiring.js'
import type { TorrentInit } from './torrent-init.js'
import { RunState, swarmParts, tickSwarm, type SwarmParts } from './torrent-parts.js'
import { peerInfoOf, statusOf, type PeerInfo, type TorrentStatus } from './torrent-status.js'
import { TransferStats } from './transfer-stats.js'

export type { TorrentEvent, TorrentState } from './events.js'
export type { TorrentInit } from './torrent-init.js'
export type { PeerInfo, TorrentStatus } from './torrent-status.js'

const TICK_MS = 1000

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
  private readonly run = new RunState()
  private readonly parts: SwarmParts
  private data: ContentParts | undefined
  private discovery: Announcer | undefined
  private tick: NodeJS.Timeout | undefined
  private lastTickAt = Date.now()
  private readonly stats = new TransferStats()
  private piecesDownloaded = 0
  private readonly startedAt = Date.now()
  private completedAt: number | null = null
  private destroying: Promise<void> | undefined
  private fetchingMetadata = false
  /** The check of the data on disk under way (true once it went well). */
  private checking: Promise<boolean> | undefined

  constructor (private readonly init: TorrentInit<Market>) {
    this.infoHash = init.infoHash
    this.directory = init.directory
    this.meta = init.meta
    this.state = init.meta ? 'checking' : 'metadata'
    this.market = init.market?.({
      requestRechoke: () => this.requestRechoke(),
      verifiedPieces: () => this.data?.content.bitfield.buffer
    })
    this.parts = swarmParts(init, {
      run: this.run,
      market: this.market,
      data: () => this.data,
      networkLog: init.parts.networkLog ?? new NetworkLog(init.logger),
      hasMetadata: () => this.meta !== undefined,
      seeding: () => this.complete,
      drop: (peer, reason) => this.dropPeer(peer, reason),
      banned: (address, reason) => {
        this.data?.requests.forgetBlocksFrom(address)
        this.events.emit({ type: 'peer-banned', address, reason })
      }
    })
    for (const address of init.magnet?.peerAddresses ?? []) this.addPeerAddress(address)
  }

  private get peers (): PeerConnections { return this.parts.peers }

  /** Bytes still to verify (an estimate that counts the last piece as whole; large before metadata). */
  bytesLeft (): number {
    return this.data?.content.bytesLeft() ?? Number.MAX_SAFE_INTEGER
  }

  /** Initial seeding (BEP 16) on or off: see SuperSeeding. */
  setSuperSeeding (on: boolean): void { this.parts.superSeeding.set(on) }

  /** A bid or a debt changed: rechoke at once (at most once a turn of the event loop), not at the next tick. */
  requestRechoke (): void {
    this.parts.choking.requestRechoke()
  }

  get name (): string { return this.meta?.name ?? this.init.magnet?.name ?? this.infoHash }

  get complete (): boolean { return this.data?.content.complete ?? false }

  private get log (): Logger { return this.init.logger }

  private setState (state: TorrentState): void {
    this.state = state
    this.events.emit({ type: 'state', state, error: this.error })
  }

  // ---------------------------------------------------------------- lifecycle

  /** Prepares storage (checking data already on disk unless resume data vouches for it) and joins the swarm. */
  async start (): Promise<void> {
    if (this.meta) await this.setupContent(this.meta, this.init.resumeBitfield)
    if (this.run.destroyed) return
    this.joinSwarm()
  }

  /** Stops all transfer; resolves once pieces already being verified are settled. */
  async pause (): Promise<void> {
    if (this.run.pausedByUser || this.run.destroyed) return
    this.run.pausedByUser = true
    this.leaveSwarm()
    // A check in progress finishes first; it then settles on 'paused'.
    this.setState(this.state !== 'checking' && this.state !== 'error' ? 'paused' : this.state)
    await this.parts.verifier.settle()
  }

  resume (): void {
    if (!this.run.pausedByUser || this.run.destroyed) return
    this.run.pausedByUser = false
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
      await this.parts.verifier.settle()
      this.run.destroyed = true
      await this.checking
      this.data?.uploads.release()
      await this.data?.content.storage.close()
      if (options.deleteData) await this.data?.content.storage.deleteFiles()
    })()
    return this.destroying
  }

  /** Hashes its data on disk again (the user's "verify", see TorrentContent.recheck); resolves once checked. */
  recheck (): Promise<void> {
    const { data } = this
    if (!data || this.state === 'checking') throw new UsageError(`${this.name}: it can be verified once its metadata is in and no check is running`)
    const wasComplete = this.complete
    this.leaveSwarm()
    this.error = null
    return this.checkContent(async () => { await this.parts.verifier.settle(); await data.content.recheck() }, wasComplete)
  }

  /** Asks its trackers for peers now (Transmission's reannounce); nothing while it is paused. */
  reannounce (): void { this.discovery?.reannounce() }

  setLimits (limits: { uploadLimit?: number; downloadLimit?: number }): void { this.parts.limits.set(limits) }

  /** New priorities for the user's files (TorrentContent.select): a torrent done downloads again, or one finishes. */
  async setFilePriorities (priorities: readonly FilePriority[]): Promise<void> {
    if (!this.data || this.state === 'checking') throw new UsageError(`${this.name}: files can be chosen once its metadata is in and its check is done`)
    const wasComplete = this.complete
    await this.parts.verifier.settle()
    await this.data.content.select(priorities)
    if (this.state === 'seeding' && !this.complete) this.setState('downloading')
    if (this.state === 'downloading' && this.complete && !wasComplete) this.onComplete()
    else for (const peer of this.peers.values()) this.parts.peerPieces.updateInterest(peer)
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
    if (!this.run.destroyed) this.peers.addAddress(address, retryNow)
  }

  private joinSwarm (): void {
    if (this.run.destroyed || this.run.pausedByUser || this.tick) return
    this.lastTickAt = Date.now()
    this.tick = setInterval(() => this.onTick(), TICK_MS)
    this.tick.unref()
    this.run.inSwarm = true
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
    this.run.inSwarm = false
    this.discovery?.destroy()
    this.discovery = undefined
    for (const peer of [...this.peers.values()]) this.dropPeer(peer, 'leaving swarm')
    this.data?.requests.stop()
    // Paused, it serves nobody: its cached pieces go now, not on the next tick, which never comes.
    this.data?.uploads.release()
  }

  // ---------------------------------------------------------------- peers (called by the Engine)

  connectFailed (address: string, reason: string): void { this.peers.connectFailed(address, reason) }

  /** Whether a new connection may join: see PeerConnections.accepts. */
  acceptsPeer (peerId: string, address: string, direction: 'incoming' | 'outgoing'): boolean {
    return this.peers.accepts(peerId, address, direction)
  }

  /** The peer broke the protocol: see PeerDiscipline.misbehaved. */
  misbehaved (peer: Peer, what: string): void {
    this.parts.discipline.misbehaved(peer, what)
  }

  /** Installs the extensions; must run before our handshake is sent. */
  prepareWire (wire: Peer['wire']): void {
    const pex = this.init.settings.pex && !(this.meta?.private ?? false)
    installExtensions(wire, { listenPort: this.init.listenPort(), meta: this.meta, pex, market: this.market, infoHashV2: this.init.magnet?.infoHashV2, blockHashes: (piece) => this.data?.blockLayers.of(piece) })
  }

  /** Both handshakes are done: the peer's messages go to the parts that handle them. */
  attachPeer (peer: Peer): void {
    const { wire } = peer
    this.peers.add(peer)
    wire.setKeepAlive(true)
    routePeerMessages(peer, {
      peerPieces: this.parts.peerPieces,
      choking: this.parts.choking,
      requests: () => this.data?.requests,
      uploads: () => this.data?.uploads,
      block: (from, index, offset, data) => this.data ? this.data.requests.onBlock(from, index, offset, data) : this.stats.waste(data.length),
      extendedHandshake: (from) => this.onExtendedHandshake(from),
      metadata: (torrentFile) => { void this.onMetadata(torrentFile) },
      pexAddress: (from, address) => this.peers.addFromPex(from, address),
      log: this.log
    })
    this.market?.attach(peer.address, wire)
    this.parts.peerPieces.sendHaves(peer)
    this.log.debug('peer connected', { infoHash: this.infoHash, peer: peer.address, direction: peer.direction })
    this.events.emit({ type: 'peer-connected', address: peer.address })
  }

  removePeer (peer: Peer): void {
    if (!this.peers.remove(peer)) return
    this.market?.detach(peer.address)
    this.parts.gossip.left(peer)
    this.data?.requests.release(peer)
    peer.uploadQueue.length = 0
    this.data?.availability.remove(peer)
    if (peer.slotKind) this.parts.choking.fillSlots()
    this.peers.connectMore()
  }

  private dropPeer (peer: Peer, reason: string): void {
    this.log.debug('dropping peer', { infoHash: this.infoHash, peer: peer.address, reason })
    this.removePeer(peer)
    peer.wire.destroy()
    peer.socket.destroy()
  }

  private onExtendedHandshake (peer: Peer): void {
    learnListenAddress(peer)
    this.parts.gossip.joined(peer)
    if (!this.meta && !this.fetchingMetadata) askForMetadata(this.peers.values(), true)
  }

  private async onMetadata (torrentFile: Uint8Array): Promise<void> {
    if (this.meta || this.fetchingMetadata || this.run.destroyed) return
    this.fetchingMetadata = true
    try {
      const meta = await metaFromPeers(torrentFile, this.init.magnet?.announce ?? [], this.init.magnet?.webSeeds, (needed, length) => fetchPieceLayers(() => [...this.peers.values()].map((peer) => peer.wire), needed, length))
      if (meta.infoHash !== this.infoHash) throw new Error('metadata does not match the info hash')
      this.meta = meta
      this.log.info('metadata received', { infoHash: this.infoHash, name: meta.name, length: meta.length })
      this.events.emit({ type: 'metadata', meta })
      askForMetadata(this.peers.values(), false)
      await this.setupContent(meta, undefined)
      for (const peer of [...this.peers.values()]) this.parts.peerPieces.onMetadata(peer)
    } catch (err) {
      this.log.warn('bad metadata from peer', { infoHash: this.infoHash, error: errorMessage(err) })
      this.meta = undefined
      this.fetchingMetadata = false
    }
  }

  // ---------------------------------------------------------------- pieces

  private async verifyPiece (piece: PieceProgress): Promise<void> {
    const { content, requests } = this.data!
    const verdict = await this.parts.verifier.verify(content, piece)
    switch (verdict.kind) {
      case 'dropped': return
      case 'unhashed': return requests.restart(piece)
      case 'corrupt': return this.onHashFailure(piece)
      case 'unwritable': return this.fail(verdict.error)
      case 'verified': break
    }
    if (this.run.destroyed) return
    requests.finish(piece)
    content.markVerified(piece.index)
    this.piecesDownloaded++
    this.market?.verified(contributionsOf(piece))
    this.events.emit({ type: 'piece-verified', index: piece.index, senders: sendersOf(piece) })
    for (const peer of this.peers.values()) peer.wire.have(piece.index)
    if (this.complete) this.onComplete()
    else requests.fillAll()
  }

  private onHashFailure (piece: PieceProgress): Promise<void> {
    const context = { meta: this.meta!, hasher: this.init.hasher, peers: () => this.peers.values(), data: this.data!, discipline: this.parts.discipline, stats: this.stats }
    return pieceFailed({ ...context, events: this.events, log: this.log, infoHash: this.infoHash, wanted: (p) => !this.run.destroyed && this.data?.requests.isCurrent(p) === true }, piece)
  }

  private onComplete (): void {
    this.completedAt = Date.now()
    this.log.info('download complete', { infoHash: this.infoHash, name: this.name })
    this.discovery?.complete()
    this.setState('seeding')
    this.events.emit({ type: 'complete' })
    for (const peer of this.peers.values()) { peer.wire.uninterested(); this.data?.requests.release(peer) }
  }

  private onTick (): void {
    const now = Date.now()
    const elapsed = Math.max(0.001, (now - this.lastTickAt) / 1000)
    this.lastTickAt = now
    tickSwarm(this.parts, this.data, { now, elapsed, stats: this.stats, settings: this.init.settings, market: this.complete ? undefined : this.market })
  }

  // ---------------------------------------------------------------- content

  private async setupContent (meta: TorrentMeta, resume: Uint8Array | undefined): Promise<void> {
    const { init } = this
    const data = contentParts({
      meta, infoHash: this.infoHash, directory: this.directory, settings: init.settings, parts: init.parts, hasher: init.hasher, log: init.logger,
      priorities: init.selectFiles?.(meta), partsPath: init.partsPath ?? `${this.directory}/.${this.infoHash}.parts`,
      peers: this.peers, stats: this.stats, downloadLimiter: this.parts.limits.download, uploadLimiter: this.parts.limits.upload, market: this.market,
      destroyed: () => this.run.destroyed,
      downloading: () => !this.run.destroyed && this.state === 'downloading',
      received: (piece) => { void this.verifyPiece(piece) },
      drop: (peer, reason) => this.dropPeer(peer, reason)
    })
    this.data = data
    await this.checkContent(() => data.content.prepare(resume, this.init.recheckBitfield), false)
  }

  /** Checks the data on disk (`check`), then goes on as paused, downloading or seeding; a torrent complete already is not told so again. */
  private async checkContent (check: () => Promise<void>, wasComplete: boolean): Promise<void> {
    this.setState('checking')
    this.checking = check().then(() => true, (err: unknown) => {
      this.fail(`cannot prepare files in ${this.directory}: ${errorMessage(err)}`)
      return false
    })
    if (!await this.checking || this.run.destroyed) return
    this.setState(this.run.pausedByUser ? 'paused' : this.runningState())
    if (this.complete && !wasComplete) this.events.emit({ type: 'complete' })
    this.joinSwarm()
  }

  private fail (message: string): void {
    this.error = message
    this.log.error('torrent failed', { infoHash: this.infoHash, error: message })
    this.leaveSwarm()
    this.setState('error')
  }

  // ---------------------------------------------------------------- reporting

  status (): TorrentStatus {
    const { meta, data, stats, parts, piecesDownloaded, startedAt, completedAt } = this
    const torrent = { infoHash: this.infoHash, name: this.name, state: this.state, error: this.error, directory: this.directory }
    return statusOf({ torrent, meta, data, stats, parts, piecesDownloaded, startedAt, completedAt })
  }

  peerList (): PeerInfo[] {
    return [...this.peers.values()].map((peer) => peerInfoOf(peer, this.meta?.pieceCount ?? 0, this.market))
  }
}
