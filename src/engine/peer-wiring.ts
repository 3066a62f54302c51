import type { EventEmitter } from 'node:events'
import utMetadata from 'ut_metadata'
import utPex from 'ut_pex'
import type { Logger } from 'winston'
import type { Choking } from './choking.js'
import type { TorrentMeta } from './metainfo.js'
import type { MarketPort } from './market-port.js'
import type { Peer, UploadRequest } from './peer.js'
import type { PeerPieces } from './peer-pieces.js'
import { pexOf } from './pex.js'
import type { PieceRequests } from './piece-requests.js'
import type { Uploads } from './uploads.js'
import { pieceOfBlockRequest } from './v2/block-layer.js'
import { HASH_REQUEST, answerBlockRequest, answerHashRequest, encodeHashMessage, parseHashRequest } from './v2/hash-messages.js'
import { v2InfoHash, type V2Meta } from './v2/metainfo-v2.js'

/** Where a connected peer's messages go: the torrent's parts (those of its content once the metadata is known). */
export interface PeerRoutes {
  readonly peerPieces: PeerPieces
  readonly choking: Choking
  readonly requests: () => PieceRequests | undefined
  readonly uploads: () => Uploads | undefined
  readonly block: (peer: Peer, index: number, offset: number, data: Uint8Array) => void
  readonly extendedHandshake: (peer: Peer) => void
  readonly metadata: (torrentFile: Uint8Array) => void
  readonly pexAddress: (peer: Peer, address: string) => void
  readonly log: Logger
}

/** Hands each message of the peer's wire, its socket's drain and its extensions' events to the part that handles it. */
export function routePeerMessages (peer: Peer, routes: PeerRoutes): void {
  const { wire } = peer
  const { peerPieces, choking, requests, uploads, log } = routes
  wire.on('bitfield', () => peerPieces.onBitfield(peer))
  wire.on('have', (index: number) => peerPieces.onHave(peer, index))
  wire.on('have-all', () => peerPieces.onHaveAll(peer))
  wire.on('have-none', () => peerPieces.onHaveNone(peer))
  wire.on('unchoke', () => requests()?.fill(peer))
  wire.on('choke', () => { if (!wire.hasFast) requests()?.release(peer) })
  wire.on('reject', (index: number, offset: number) => requests()?.releaseBlock(peer, index, offset))
  wire.on('cancel', (index: number, offset: number, length: number) => uploads()?.onCancel(peer, index, offset, length))
  wire.on('piece', (index: number, offset: number, data: Uint8Array) => routes.block(peer, index, offset, data))
  wire.on('interested', () => choking.fillSlots(peer))
  wire.on('uninterested', () => choking.fillSlots())
  wire.on('request', (index: number, offset: number, length: number, respond: UploadRequest['respond']) => {
    const serving = uploads()
    if (serving) serving.onRequest(peer, { index, offset, length, respond })
    else respond(new Error('invalid request'))
  })
  wire.on('extended', (ext: string) => { if (ext === 'handshake') routes.extendedHandshake(peer) })
  wire.on('unknownmessage', () => log.debug('unknown message from peer', { peer: peer.address }))
  peer.socket.on('drain', () => { if (peer.waitingForDrain) { peer.waitingForDrain = false; void uploads()?.pump(peer) } })

  const metadataExtension = wire.ut_metadata as EventEmitter | undefined
  metadataExtension?.on('metadata', (torrent: Uint8Array) => routes.metadata(torrent))
  metadataExtension?.on('warning', (err: Error) => log.debug('ut_metadata', { peer: peer.address, error: err.message }))
  const pexExtension = pexOf(peer)
  pexExtension?.on('peer', (address: string) => routes.pexAddress(peer, address))
  pexExtension?.on('warning', (err: Error) => log.debug('ut_pex', { peer: peer.address, error: err.message }))
}

export interface WireSetup {
  readonly listenPort: number
  /** The metadata, once known: its info dictionary is served to peers that ask (ut_metadata), a v2 torrent's piece layers too (hash requests). */
  readonly meta: TorrentMeta | undefined
  readonly pex: boolean
  readonly market: MarketPort | undefined
  /** A v2 magnet's SHA-256 info hash, before the metadata: what the metadata must hash to. */
  readonly infoHashV2?: string | undefined
  /** The block hashes of a piece we have (BlockLayers.of), to answer requests for a v2 piece's base layer. */
  readonly blockHashes?: (piece: number) => Promise<Buffer | undefined> | undefined
}

/** Installs our extensions on a new wire; runs before our handshake is sent. */
export function installExtensions (wire: Peer['wire'], setup: WireSetup): void {
  wire.extendedHandshake.v = 'bidtorrent/0.1.0'
  wire.extendedHandshake.p = setup.listenPort
  wire.use(utMetadata(setup.meta?.infoBuffer))
  if (setup.pex) wire.use(utPex())
  setup.market?.prepareWire(wire)
  if (!setup.meta && setup.infoHashV2) checkMetadataBySha256(wire, setup.infoHashV2)
  const v2 = setup.meta?.v2
  if (v2) {
    wire.advertiseV2 = true
    serveHashRequests(wire, v2, setup.meta!.pieceLength, setup.blockHashes)
  }
}

/**
 * Answers BEP 52 hash requests: piece layers and above from the tree we hold; one piece's block
 * hashes (base layer 0, what a peer asks when a piece failed for it) computed from the piece on disk.
 */
function serveHashRequests (wire: Peer['wire'], v2: V2Meta, pieceLength: number, blockHashes: WireSetup['blockHashes']): void {
  wire.on('unknownmessage', (message: Uint8Array) => {
    if (message[0] !== HASH_REQUEST) return
    const request = parseHashRequest(message)
    if (!request) return
    const piece = pieceOfBlockRequest(v2, pieceLength, request)
    if (piece === undefined) return wire.sendMessage(encodeHashMessage(request, answerHashRequest(v2, pieceLength, request)))
    void Promise.resolve(blockHashes?.(piece)).then((hashes) => {
      wire.sendMessage(encodeHashMessage(request, hashes && answerBlockRequest(v2, pieceLength, request, piece, hashes)))
    })
  })
}

interface MetadataState extends EventEmitter {
  _metadataComplete: boolean
  _metadataSize: number
  metadata: Uint8Array
  cancel (): void
  setMetadata (metadata: Uint8Array): Promise<boolean>
}

/**
 * ut_metadata checks what peers sent by SHA-1 against the handshake's hash; a v2 magnet's is the
 * truncated SHA-256 of the info dictionary (BEP 52). Its check is replaced by SHA-256 against the
 * whole v2 hash, and the info dictionary handed on as sent (ut_metadata re-encodes it).
 */
function checkMetadataBySha256 (wire: Peer['wire'], infoHashV2: string): void {
  wire.advertiseV2 = true
  const extension = wire.ut_metadata as MetadataState | undefined
  if (!extension) return
  extension.setMetadata = async (metadata: Uint8Array): Promise<boolean> => {
    if (extension._metadataComplete) return true
    if (v2InfoHash(metadata) !== infoHashV2) return false
    extension.cancel()
    extension.metadata = metadata
    extension._metadataComplete = true
    extension._metadataSize = metadata.length
    wire.extendedHandshake.metadata_size = metadata.length
    extension.emit('metadata', Buffer.concat([Buffer.from('d4:info'), metadata, Buffer.from('e')]))
    return true
  }
}

/** A peer that called us says in its extended handshake where it listens: the address PEX passes on. */
export function learnListenAddress (peer: Peer): void {
  const { p: port } = peer.wire.peerExtendedHandshake
  if (typeof port !== 'number' || port <= 0 || port >= 65536 || peer.direction !== 'incoming') return
  const host = peer.host.includes(':') ? `[${peer.host}]` : peer.host
  peer.listenAddress = `${host}:${port}`
}

type MetadataExtension = { fetch(): void, cancel(): void }

/** Asks every peer for the metadata (a magnet's info dictionary), or stops asking once it is known. */
export function askForMetadata (peers: Iterable<Peer>, ask: boolean): void {
  for (const peer of peers) {
    const extension = peer.wire.ut_metadata as MetadataExtension | undefined
    if (ask) extension?.fetch()
    else extension?.cancel()
  }
}
