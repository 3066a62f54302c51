import { EventEmitter } from 'node:events'
import { createServer, isIPv4, type Server, type Socket, type AddressInfo } from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { Client as DHT } from 'bittorrent-dht'
import type { Logger } from 'winston'
import { BidtorrentError, errorMessage } from '../util/errors.js'
import { PieceHasher } from './hasher.js'
import { swarmHashes, type MagnetInfo, type TorrentMeta } from './metainfo.js'
import { Peer } from './peer.js'
import { TokenBucket } from './rate-limiter.js'
import type { EngineParts, EngineSettings } from './settings.js'
import type { MarketPort } from './market-port.js'
import { Torrent } from './torrent.js'
import type { TorrentInit } from './torrent-init.js'
import { dial } from './dialer.js'
import { encryptionOf, wireOnSocket, type PeerSocket, type Transport } from './peer-socket.js'
import { UtpEndpoint } from './utp-endpoint.js'

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
  readonly selectFiles?: TorrentInit['selectFiles']
  readonly partsPath?: string
  /** Initial seeding (BEP 16) once complete: see SuperSeeding. */
  readonly superSeed?: boolean
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
  /** Every swarm hash a peer may greet us with, to the torrent's own: a hybrid is also in its v2 swarm (BEP 52). */
  private readonly swarms = new Map<string, string>()
  /** The hash threads: verification, rechecks and making torrents share them. */
  readonly hasher = new PieceHasher()
  private readonly uploadBucket: TokenBucket
  private readonly downloadBucket: TokenBucket
  private readonly sockets = new Set<PeerSocket>()
  private server: Server | undefined
  private utp: UtpEndpoint | undefined
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

  /** Changes the daemon-wide rate limits at once (bytes per second, 0 = none), for every torrent. */
  setGlobalLimits (limits: { readonly uploadLimit: number, readonly downloadLimit: number }): void {
    this.uploadBucket.setRate(limits.uploadLimit)
    this.downloadBucket.setRate(limits.downloadLimit)
  }

  get dhtPort (): number | undefined {
    return this.dht ? this.port : undefined
  }

  async start (): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.listen()
        break
      } catch (err) {
        // Port 0: TCP's port is the kernel's pick, and the same UDP port may be taken. Pick again.
        if (this.settings.port !== 0 || attempt >= 5 || !(err instanceof BidtorrentError) || err.code !== 'EUDPINUSE') throw err
        await this.closeListeners()
      }
    }
    if (this.settings.dht) this.dht = this.startDht()
    this.log.info('engine listening', { port: this.port, tcp: this.settings.tcp, utp: this.settings.utp, dht: this.settings.dht, peerId: this.peerId })
  }

  /** TCP and uTP on one port number, as peers expect (they learn one port and try both). */
  private async listen (): Promise<void> {
    const { listenHost } = this.settings
    let port = this.settings.port
    if (this.settings.tcp) {
      this.server = await listenTcp(port, listenHost, (socket) => this.onIncoming(socket, 'tcp', { address: socket.remoteAddress, family: socket.remoteFamily, port: socket.remotePort }))
      this.server.on('error', (err) => this.log.error('peer listener error', { error: err.message }))
      port = (this.server.address() as AddressInfo).port
    }
    if (this.settings.utp) {
      const utp = new UtpEndpoint((connection) => this.onIncoming(connection, 'utp', { address: connection.remoteAddress, family: 'IPv4', port: connection.remotePort }))
      this.utp = utp
      // libutp (as bound here) speaks IPv4 only: IPv6 peers come over TCP.
      await utp.listen(port, isIPv4(listenHost) ? listenHost : '0.0.0.0')
      utp.socket.on('error', (err: Error) => this.log.warn('uTP socket error', { error: err.message }))
      port = utp.port ?? port
    }
    this.port = port
  }

  private async closeListeners (): Promise<void> {
    const server = this.server
    this.server = undefined
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    await this.utp?.close()
    this.utp = undefined
  }

  /** The DHT rides on the uTP socket when there is one (as libtorrent's does), else on its own. */
  private startDht (): DHT {
    const bootstrap = this.settings.dhtBootstrap
    const socket = this.utp?.socket
    const dht = new DHT({ ...(bootstrap ? { bootstrap: [...bootstrap] } : {}), ...(socket ? { socket } : {}) })
    dht.on('error', (err: Error) => this.log.warn('dht error', { error: err.message }))
    dht.on('warning', (err: Error) => this.log.debug('dht warning', { error: err.message }))
    // The shared socket was bound before the DHT was given it: tell the DHT it is listening.
    if (socket) socket.emit('listening')
    else dht.listen(this.port)
    return dht
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await Promise.all([...this.torrents.values()].map((torrent) => torrent.destroy()))
    this.torrents.clear()
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => (this.dht ? this.dht.destroy(() => resolve()) : resolve()))
    await this.closeListeners()
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
      ...(options.selectFiles ? { selectFiles: options.selectFiles } : {}),
      ...(options.partsPath ? { partsPath: options.partsPath } : {}),
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
      superSeed: options.superSeed ?? false,
      ...(options.market ? { market: options.market } : {})
    })
    this.torrents.set(infoHash, torrent)
    for (const hash of swarmHashes(options.meta ?? options.magnet!)) {
      this.swarms.set(hash, infoHash)
      this.torrentsByObfuscatedHash.set(obfuscatedHash(hash), hash)
    }
    if (options.paused) await torrent.pause()
    for (const address of options.peers ?? []) torrent.addPeerAddress(address)
    torrent.start().catch((err: unknown) => this.log.error('torrent start failed', { infoHash, error: errorMessage(err) }))
    return torrent
  }

  async remove (infoHash: string, options: { deleteData?: boolean } = {}): Promise<void> {
    const torrent = this.torrents.get(infoHash)
    if (!torrent) return
    this.torrents.delete(infoHash)
    for (const [hash, owner] of this.swarms) {
      if (owner !== infoHash) continue
      this.swarms.delete(hash)
      this.torrentsByObfuscatedHash.delete(obfuscatedHash(hash))
    }
    await torrent.destroy(options)
  }

  // ---------------------------------------------------------------- connections

  private track (socket: PeerSocket): void {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
    socket.on('error', (err: Error) => this.log.debug('peer socket error', { error: err.message }))
  }

  private connectOutgoing (address: string, torrent: Torrent<Market>): void {
    if (this.stopped) return torrent.connectFailed(address, 'the engine is stopping')
    dial(address, torrent, {
      peerId: this.peerId,
      dht: this.settings.dht,
      tcp: this.settings.tcp,
      encryption: this.settings.encryption,
      encryptPayload: this.settings.encryptPayload,
      utp: this.utp,
      log: this.log,
      track: (socket) => this.track(socket),
      attach: (peer) => this.attach(torrent, peer)
    })
  }

  private onIncoming (socket: PeerSocket, transport: Transport, remote: { address?: string | undefined, family?: string | undefined, port?: number | undefined }): void {
    if (this.stopped) return void socket.destroy()
    this.track(socket)
    const address = peerAddress(remote)
    const { encryption, encryptPayload } = this.settings
    const wire = wireOnSocket(socket, { direction: 'incoming', transport, pe: encryption === 'plaintext' ? 0 : encryptPayload ? 2 : 1, log: this.log })
    // libtorrent and qBittorrent open with an encrypted (MSE) handshake by default: answer it
    // (choosing plaintext for the payload when offered) instead of making them retry.
    wire.once('crypto-infohash', (hash: string) => {
      const infoHash = this.torrentsByObfuscatedHash.get(hash)
      if (!infoHash) return void socket.destroy()
      wire.setInfoHash(infoHash)
    })
    wire.once('handshake', (infoHash: string, peerId: string) => {
      const torrent = this.torrents.get(this.swarms.get(infoHash) ?? '')
      const refused = !torrent ? 'no such torrent' : encryption === 'require' && encryptionOf(wire) === 'none' ? 'plaintext, and encryption is required' : torrent.acceptsPeer(peerId, address, 'incoming') ? undefined : 'not accepted'
      if (!torrent || refused !== undefined) {
        this.log.debug('refused incoming peer', { peer: address, infoHash, transport, reason: refused })
        socket.destroy()
        return
      }
      torrent.prepareWire(wire)
      wire.handshake(infoHash, this.peerId, { dht: this.settings.dht, fast: true })
      this.attach(torrent, new Peer(wire, socket, address, 'incoming', transport))
    })
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

/**
 * Paused on accept, so the socket can be put on the shared read buffer before its first read.
 * `::` takes IPv6 and IPv4 peers on one socket; on a machine without IPv6 it falls back to IPv4.
 */
async function listenTcp (port: number, host: string, onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer({ noDelay: true, pauseOnConnect: true }, onConnection)
  const listen = async (on: string): Promise<void> => await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, on, () => {
      server.removeAllListeners('error')
      resolve()
    })
  })
  try {
    await listen(host)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (host === '::' && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) return await listenTcp(port, '0.0.0.0', onConnection)
    throw new BidtorrentError('ELISTEN', `cannot listen for peers on ${host}:${port}: ${code === 'EADDRINUSE' ? 'the port is in use (choose another with --port)' : errorMessage(err)}`)
  }
  return server
}

/** `host:port` of a remote peer; an IPv4 peer on a dual-stack socket (`::ffff:a.b.c.d`) is named by its IPv4 address. */
function peerAddress (remote: { address?: string | undefined, family?: string | undefined, port?: number | undefined }): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote.address ?? '')
  if (mapped) return `${mapped[1]}:${remote.port}`
  return `${remote.family === 'IPv6' ? `[${remote.address}]` : remote.address}:${remote.port}`
}
