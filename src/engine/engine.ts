import { EventEmitter } from 'node:events'
import { createServer, connect as netConnect, type Server, type Socket, type AddressInfo } from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { Client as DHT } from 'bittorrent-dht'
import type { Logger } from 'winston'
import { BidtorrentError, errorMessage } from '../util/errors.js'
import { PieceHasher } from './hasher.js'
import type { MagnetInfo, TorrentMeta } from './metainfo.js'
import { Peer, type Direction } from './peer.js'
import { TokenBucket } from './rate-limiter.js'
import type { EngineParts, EngineSettings } from './settings.js'
import type { MarketPort } from './market-port.js'
import { Torrent } from './torrent.js'
import type { TorrentInit } from './torrent-init.js'
import { sent } from './upload-buffers.js'
import { readIntoSharedBuffer, sharedReadOption } from './shared-read.js'
import { BoundedWire } from './wire.js'

const HANDSHAKE_TIMEOUT_MS = 20_000
const CONNECT_TIMEOUT_MS = 15_000
/** Azureus-style peer id prefix: -BT0100- is bidtorrent 0.1.0. */
const PEER_ID_PREFIX = '-BD0100-'

export interface AddTorrentOptions<Market extends MarketPort = MarketPort> {
  readonly meta?: TorrentMeta
  readonly magnet?: MagnetInfo
  readonly directory: string
  readonly paused?: boolean
  readonly resumeBitfield?: Uint8Array
  readonly recheckBitfield?: Uint8Array
  readonly beforeVerified?: (index: number) => Promise<void>
  readonly peers?: readonly string[]
  readonly uploadLimit?: number
  readonly downloadLimit?: number
  readonly market?: TorrentInit<Market>['market']
}

/**
 * The BitTorrent engine: one listening socket and one DHT node shared by all torrents,
 * global rate limits, and the hash workers.
 */
export class Engine<Market extends MarketPort = MarketPort> extends EventEmitter {
  readonly peerId: string
  private readonly torrents = new Map<string, Torrent<Market>>()
  /** sha1('req2' + info hash) → info hash: how an encrypted (MSE) handshake names its torrent. */
  private readonly torrentsByObfuscatedHash = new Map<string, string>()
  /** The hash threads: verification, rechecks and making torrents share them. */
  readonly hasher = new PieceHasher()
  private readonly uploadBucket: TokenBucket
  private readonly downloadBucket: TokenBucket
  private readonly sockets = new Set<Socket>()
  private server: Server | undefined
  private dht: DHT | undefined
  private port = 0
  private stopped = false

  constructor (private readonly settings: EngineSettings, private readonly parts: EngineParts, private readonly log: Logger) {
    super()
    this.peerId = Buffer.concat([Buffer.from(PEER_ID_PREFIX), randomBytes(12)]).toString('hex')
    this.uploadBucket = new TokenBucket(settings.uploadLimit)
    this.downloadBucket = new TokenBucket(settings.downloadLimit)
  }

  get listenPort (): number {
    return this.port
  }

  get dhtPort (): number | undefined {
    return this.dht?.address()?.port
  }

  async start (): Promise<void> {
    // Paused on accept, so the socket can be put on the shared read buffer before its first read.
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.onIncoming(socket))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new BidtorrentError('ELISTEN',
        `cannot listen for peers on ${this.settings.listenHost}:${this.settings.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use (choose another with --port)' : err.message}`)))
      server.listen(this.settings.port, this.settings.listenHost, () => {
        server.removeAllListeners('error')
        resolve()
      })
    })
    server.on('error', (err) => this.log.error('peer listener error', { error: err.message }))
    this.port = (server.address() as AddressInfo).port
    if (this.settings.dht) {
      const bootstrap = this.settings.dhtBootstrap
      const dht = new DHT(bootstrap ? { bootstrap: [...bootstrap] } : {})
      dht.on('error', (err: Error) => this.log.warn('dht error', { error: err.message }))
      dht.on('warning', (err: Error) => this.log.debug('dht warning', { error: err.message }))
      await new Promise<void>((resolve) => dht.listen(this.port, resolve))
      this.dht = dht
    }
    this.log.info('engine listening', { port: this.port, dht: this.settings.dht, peerId: this.peerId })
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await Promise.all([...this.torrents.values()].map((torrent) => torrent.destroy()))
    this.torrents.clear()
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    await new Promise<void>((resolve) => (this.dht ? this.dht.destroy(() => resolve()) : resolve()))
    await this.hasher.destroy()
  }

  get (infoHash: string): Torrent<Market> | undefined {
    return this.torrents.get(infoHash)
  }

  list (): Array<Torrent<Market>> {
    return [...this.torrents.values()]
  }

  /** Adds a torrent and starts it in the background (checking existing data can take long; progress shows in its status). */
  async add (options: AddTorrentOptions<Market>): Promise<Torrent<Market>> {
    const infoHash = options.meta?.infoHash ?? options.magnet?.infoHash
    if (!infoHash) throw new Error('a torrent needs metadata or a magnet link')
    const existing = this.torrents.get(infoHash)
    if (existing) return existing
    const torrent: Torrent<Market> = new Torrent<Market>({
      infoHash,
      ...(options.meta ? { meta: options.meta } : {}),
      ...(options.magnet ? { magnet: options.magnet } : {}),
      ...(options.resumeBitfield ? { resumeBitfield: options.resumeBitfield } : {}),
      ...(options.recheckBitfield ? { recheckBitfield: options.recheckBitfield } : {}),
      ...(options.beforeVerified ? { beforeVerified: options.beforeVerified } : {}),
      directory: options.directory,
      peerId: this.peerId,
      settings: this.settings,
      parts: this.parts,
      logger: this.log,
      hasher: this.hasher,
      globalUpload: this.uploadBucket,
      globalDownload: this.downloadBucket,
      listenPort: () => this.port,
      dht: this.dht,
      connect: (address) => this.connectOutgoing(address, torrent),
      uploadLimit: options.uploadLimit ?? 0,
      downloadLimit: options.downloadLimit ?? 0,
      ...(options.market ? { market: options.market } : {})
    })
    this.torrents.set(infoHash, torrent)
    this.torrentsByObfuscatedHash.set(obfuscatedHash(infoHash), infoHash)
    if (options.paused) await torrent.pause()
    for (const address of options.peers ?? []) torrent.addPeerAddress(address)
    torrent.start().catch((err: unknown) => this.log.error('torrent start failed', { infoHash, error: errorMessage(err) }))
    return torrent
  }

  async remove (infoHash: string, options: { deleteData?: boolean } = {}): Promise<void> {
    const torrent = this.torrents.get(infoHash)
    if (!torrent) return
    this.torrents.delete(infoHash)
    this.torrentsByObfuscatedHash.delete(obfuscatedHash(infoHash))
    await torrent.destroy(options)
  }

  // ---------------------------------------------------------------- connections

  private track (socket: Socket): void {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
    socket.on('error', (err) => this.log.debug('peer socket error', { error: err.message }))
  }

  private connectOutgoing (address: string, torrent: Torrent<Market>): void {
    if (this.stopped) return torrent.connectFailed(address)
    const separator = address.lastIndexOf(':')
    const host = address.slice(0, separator).replace(/^\[|\]$/g, '')
    const port = Number(address.slice(separator + 1))
    let wire: BoundedWire | undefined
    const socket = netConnect({
      host,
      port,
      noDelay: true,
      timeout: CONNECT_TIMEOUT_MS,
      onread: sharedReadOption(() => wire)
    })
    this.track(socket)
    let settled = false
    const failed = (reason: string): void => {
      if (settled) return
      settled = true
      this.log.debug('outgoing connection failed', { peer: address, reason })
      socket.destroy()
      torrent.connectFailed(address)
    }
    socket.once('timeout', () => failed('timeout'))
    socket.once('error', (err) => failed(err.message))
    socket.once('close', () => failed('closed before handshake'))
    socket.once('connect', () => {
      socket.setTimeout(0)
      const connected = this.createWire(socket, 'outgoing')
      wire = connected
      torrent.prepareWire(connected)
      connected.handshake(torrent.infoHash, this.peerId, { dht: this.settings.dht, fast: true })
      connected.once('handshake', (infoHash: string, peerId: string) => {
        if (infoHash !== torrent.infoHash || !torrent.acceptsPeer(peerId, address, 'outgoing')) {
          return failed(peerId === this.peerId ? 'connected to ourselves' : 'handshake refused')
        }
        settled = true
        this.attach(torrent, new Peer(connected, socket, address, 'outgoing'))
      })
    })
  }

  private onIncoming (socket: Socket): void {
    if (this.stopped) return void socket.destroy()
    this.track(socket)
    const address = `${socket.remoteFamily === 'IPv6' ? `[${socket.remoteAddress}]` : socket.remoteAddress}:${socket.remotePort}`
    const wire = this.createWire(socket, 'incoming')
    // libtorrent and qBittorrent open with an encrypted (MSE) handshake by default: answer it
    // (choosing plaintext for the payload when offered) instead of making them retry.
    wire.once('crypto-infohash', (hash: string) => {
      const infoHash = this.torrentsByObfuscatedHash.get(hash)
      if (!infoHash) return void socket.destroy()
      wire.setInfoHash(infoHash)
    })
    wire.once('handshake', (infoHash: string, peerId: string) => {
      const torrent = this.torrents.get(infoHash)
      if (!torrent || !torrent.acceptsPeer(peerId, address, 'incoming')) {
        this.log.debug('refused incoming peer', { peer: address, infoHash })
        socket.destroy()
        return
      }
      torrent.prepareWire(wire)
      wire.handshake(infoHash, this.peerId, { dht: this.settings.dht, fast: true })
      this.attach(torrent, new Peer(wire, socket, address, 'incoming'))
    })
  }

  private createWire (socket: Socket, direction: Direction): BoundedWire {
    // Incoming: MSE or plaintext (1 = encryption accepted, plaintext preferred). Outgoing: plaintext.
    const wire = direction === 'incoming' ? new BoundedWire('tcpIncoming', 1) : new BoundedWire('tcpOutgoing')
    // Outgoing sockets were opened with `onread`; accepted ones are switched to it when this Node allows.
    if (direction === 'outgoing' || readIntoSharedBuffer(socket, wire)) {
      // A socket reading into its own buffer never emits 'data'; flowing mode still lets it emit 'end'.
      socket.once('end', () => wire.end())
      socket.resume()
    } else {
      socket.pipe(wire)
    }
    // Messages written in one tick leave in one writev: a request is 17 bytes, and one syscall each
    // was the leecher's largest cost.
    let corked = false
    const uncork = (): void => {
      corked = false
      socket.uncork()
    }
    wire.on('data', (chunk: Uint8Array) => {
      if (socket.destroyed) return
      if (!corked) {
        corked = true
        socket.cork()
        process.nextTick(uncork)
      }
      if (!socket.write(chunk, () => sent(chunk))) wire.pause()
    })
    socket.on('drain', () => wire.resume())
    const handshakeTimer = setTimeout(() => {
      this.log.debug('handshake timed out', { direction })
      socket.destroy()
    }, HANDSHAKE_TIMEOUT_MS)
    handshakeTimer.unref()
    wire.once('handshake', () => clearTimeout(handshakeTimer))
    wire.on('error', (err: Error) => {
      this.log.debug('wire error', { error: errorMessage(err) })
      socket.destroy()
    })
    // The wire ends itself on protocol violations (wrong protocol string, oversized message).
    wire.once('close', () => socket.destroy())
    wire.once('end', () => socket.destroy())
    socket.once('close', () => {
      clearTimeout(handshakeTimer)
      wire.destroy()
    })
    return wire
  }

  private attach (torrent: Torrent<Market>, peer: Peer): void {
    peer.socket.once('close', () => {
      if (peer.wire.oversizeMessage) torrent.misbehaved(peer, 'an oversized message')
      else if (peer.wire.protocolError !== undefined) torrent.misbehaved(peer, `a message we could not handle (${peer.wire.protocolError})`)
      torrent.removePeer(peer)
    })
    if (peer.socket.destroyed) return
    torrent.attachPeer(peer)
  }
}

function obfuscatedHash (infoHash: string): string {
  return createHash('sha1').update('req2').update(Buffer.from(infoHash, 'hex')).digest('hex')
}
