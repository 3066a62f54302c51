// Ambient declarations for the webtorrent building blocks, which ship no types.
// Only the surface this project uses is declared.

declare module 'bittorrent-protocol' {
  import { Duplex } from 'node:stream'
  import type BitField from 'bitfield'

  export interface ExtendedHandshake {
    m?: Record<string, number>
    v?: Uint8Array | string
    p?: number
    metadata_size?: number
    [key: string]: unknown
  }

  export interface WireExtension {
    name: string
    onHandshake?(infoHash: string, peerId: string, extensions: Record<string, boolean>): void
    onExtendedHandshake?(handshake: ExtendedHandshake): void
    onMessage?(buf: Uint8Array): void
  }

  export type WireExtensionFactory = { new (wire: Wire): WireExtension; prototype: { name: string } }

  export default class Wire extends Duplex {
    constructor(type?: string, peEnabled?: number)
    peerId: string | null
    type: string
    amChoking: boolean
    amInterested: boolean
    peerChoking: boolean
    peerInterested: boolean
    peerPieces: BitField
    peerExtensions: { dht?: boolean; fast?: boolean; extended?: boolean }
    peerExtendedHandshake: ExtendedHandshake
    extendedHandshake: Record<string, unknown>
    /** The ids the peer gave each extension in its extended handshake (0: it turned one off). */
    peerExtendedMapping: Record<string, number>
    hasFast: boolean
    requests: unknown[]
    peerRequests: unknown[]
    uploaded: number
    downloaded: number
    [extension: string]: unknown
    use(ext: WireExtensionFactory): void
    setKeepAlive(enable: boolean): void
    setTimeout(ms: number, unref?: boolean): void
    handshake(infoHash: string | Uint8Array, peerId: string | Uint8Array, extensions?: { dht?: boolean; fast?: boolean }): void
    choke(): void
    unchoke(): void
    interested(): void
    uninterested(): void
    have(index: number): void
    bitfield(bitfield: BitField | Uint8Array): void
    request(index: number, offset: number, length: number, cb: (err: Error | null, buf?: Uint8Array) => void): void
    piece(index: number, offset: number, buffer: Uint8Array): void
    cancel(index: number, offset: number, length: number): void
    reject(index: number, offset: number, length: number): void
    haveAll(): void
    haveNone(): void
    port(port: number): void
    extended(ext: number | string, obj: Uint8Array | Record<string, unknown>): void
    /** Answers an incoming MSE handshake once its torrent is known (after 'crypto-infohash'). */
    setInfoHash(infoHash: string): void
    /** Opens an outgoing MSE handshake (the wire was made with PE enabled); 'crypto-handshake' follows. */
    startEncryption(infoHash: string): void
    /** After MSE: 1 = plaintext payload, 2 = RC4; null or undefined without MSE. */
    readonly _encryptionMethod: 1 | 2 | null | undefined
    destroy(err?: Error): this
  }
}

declare module 'ut_metadata' {
  import type { WireExtensionFactory } from 'bittorrent-protocol'
  export default function utMetadata(metadata?: Uint8Array): WireExtensionFactory
}

declare module 'ut_pex' {
  import type { WireExtensionFactory } from 'bittorrent-protocol'
  export default function utPex(): WireExtensionFactory
}

declare module 'torrent-discovery' {
  import { EventEmitter } from 'node:events'
  export interface DiscoveryOptions {
    infoHash: string
    peerId: string
    port: number
    announce?: string[]
    dht?: unknown
    tracker?: boolean | Record<string, unknown>
    lsd?: boolean
    intervalMs?: number
    userAgent?: string
  }
  export default class Discovery extends EventEmitter {
    constructor(opts: DiscoveryOptions)
    complete(opts?: Record<string, unknown>): void
    destroy(cb?: (err?: Error | null) => void): void
    /** The tracker client (bittorrent-tracker's), when there are trackers: `update` announces now. */
    tracker: { update(opts?: Record<string, unknown>): void } | null
  }
}

declare module 'bittorrent-dht' {
  import { EventEmitter } from 'node:events'
  export class Client extends EventEmitter {
    constructor(opts?: Record<string, unknown>)
    listen(port?: number, cb?: () => void): void
    address(): { address: string; port: number } | null
    addNode(node: { host: string; port: number }): void
    lookup(infoHash: string, cb?: (err: Error | null) => void): void
    destroy(cb?: () => void): void
    toJSON(): { nodes: Array<{ host: string; port: number }> }
  }
}

declare module 'parse-torrent' {
  export interface ParsedTorrentFile {
    path: string
    name: string
    length: number
    offset: number
  }
  export interface ParsedTorrent {
    infoHash: string
    infoHashBuffer?: Uint8Array
    name?: string
    announce?: string[]
    urlList?: string[]
    private?: boolean
    info?: Record<string, unknown>
    infoBuffer?: Uint8Array
    files?: ParsedTorrentFile[]
    length?: number
    pieceLength?: number
    lastPieceLength?: number
    pieces?: string[]
    peerAddresses?: string[]
    xs?: string | string[]
  }
  export default function parseTorrent(torrentId: string | Uint8Array | ParsedTorrent): Promise<ParsedTorrent>
  export function toMagnetURI(parsed: ParsedTorrent): string
  export function toTorrentFile(parsed: ParsedTorrent): Uint8Array
}

declare module 'bencode' {
  const bencode: {
    encode(value: unknown): Uint8Array
    decode(data: Uint8Array | string, start?: number, end?: number, encoding?: string): unknown
  }
  export default bencode
}

declare module 'solc' {
  /** Standard JSON in, standard JSON out (https://docs.soliditylang.org/en/latest/using-the-compiler.html). */
  export function compile (input: string): string
  export function version (): string
  const solc: { compile: typeof compile, version: typeof version }
  export default solc
}

declare module 'bittorrent-tracker' {
  import { EventEmitter } from 'node:events'

  export interface ServerOptions {
    /** Announce interval told to clients, ms. */
    interval?: number
    http?: boolean | Record<string, unknown>
    udp?: boolean | Record<string, unknown>
    ws?: boolean | Record<string, unknown>
    stats?: boolean
    filter?: (infoHash: string, params: unknown, callback: (err?: Error | null) => void) => void
  }

  export class Server extends EventEmitter {
    constructor(options?: ServerOptions)
    listen(port: number, hostname: string, onListening?: () => void): void
    close(callback?: () => void): void
  }
}

declare module 'utp-native' {
  import { EventEmitter } from 'node:events'
  import { Duplex } from 'node:stream'

  /** A uTP connection: a stream like a TCP socket (readable-stream's Duplex underneath). */
  export interface UtpConnection extends Duplex {
    readonly remoteAddress: string
    readonly remoteFamily: 'IPv4'
    readonly remotePort: number
    setTimeout(ms: number, onTimeout?: () => void): void
  }

  /** One UDP socket carrying uTP connections both ways; other datagrams arrive as 'message'. */
  export interface UtpSocket extends EventEmitter {
    connections: UtpConnection[]
    maxConnections: number
    listen(port: number, host?: string, onListening?: () => void): void
    bind(port: number, host?: string, onListening?: () => void): void
    connect(port: number, host: string): UtpConnection
    address(): { address: string, family: 'IPv4', port: number }
    send(buffer: Uint8Array, offset: number, length: number, port: number, host: string, callback?: (err: Error | null) => void): void
    /** true: refuse incoming connections. */
    firewall(refuse: boolean): void
    setRecvBufferSize(bytes: number): number
    setSendBufferSize(bytes: number): number
    close(onClose?: () => void): void
    ref(): void
    unref(): void
  }

  interface UtpFactory {
    (options?: { allowHalfOpen?: boolean }): UtpSocket
    createServer(onConnection?: (connection: UtpConnection) => void): UtpSocket
  }
  const utp: UtpFactory
  export default utp
}
