import { createServer, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Wire from 'bittorrent-protocol'
import BitField from 'bitfield'
import type { TorrentMeta } from '../src/engine/metainfo.js'
import { pieceLengthOf } from '../src/engine/metainfo.js'
import { PieceStorage } from '../src/engine/storage.js'
import { marketExtension } from '../src/market/extension.js'
import { Inbox, handshakeOf, newWallet, type TestWallet } from './market-peer.js'

/** What the peer does with a request: answer it with flipped bytes, never answer it, or answer it right. */
export type Delivery = 'corrupt' | 'withhold' | 'honest'

export interface EvilPeerOptions {
  readonly delivery?: Delivery
  /** With 'corrupt': which blocks to corrupt (asked as each is requested); the rest are sent right. Default: every one. */
  readonly corrupts?: (index: number, offset: number) => boolean
  /** Speak the market extension with this floor: answer each bid with a paid slot at its price. */
  readonly marketFloor?: bigint
  /** With `marketFloor`: refuse every voucher (with this code), answering each with a receipt for nothing. */
  readonly refuseVouchers?: 'stale-nonce' | 'over-funds'
  /** The settlement backend and chain it announces (default: embedded, chain 0). */
  readonly marketBackend?: { readonly backend: 'embedded' | 'evm', readonly chainId: number }
}

export interface EvilPeer {
  readonly port: number
  /** How often each block ("piece:offset") was requested from us. */
  readonly requests: Map<string, number>
  connections: number
  /** Connections that got as far as a BitTorrent handshake (an encrypted call it cannot read does not). */
  handshakes: number
  corruptBlocksSent: number
  /** The market identity and the market messages received (with `marketFloor`). */
  readonly wallet: TestWallet
  readonly inbox: Inbox
  close (): Promise<void>
}

/**
 * A real BitTorrent peer on 127.0.0.1 that claims every piece and answers every request with the
 * right length but flipped bytes (a peer sending corrupt data), or never answers (`withhold`). With
 * `marketFloor` it also sells in the market: it quotes a paid slot to every bidder, then delivers
 * as badly.
 */
export async function startEvilPeer (meta: TorrentMeta, dataDirectory: string, options: EvilPeerOptions = {}): Promise<EvilPeer> {
  const storage = new PieceStorage(meta, dataDirectory)
  const sockets = new Set<Socket>()
  const peer: EvilPeer = {
    port: 0,
    requests: new Map(),
    connections: 0,
    handshakes: 0,
    corruptBlocksSent: 0,
    wallet: newWallet(),
    inbox: new Inbox(),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await storage.close()
    }
  }
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    peer.connections++
    const wire = new Wire()
    if (options.marketFloor !== undefined) {
      wire.use(marketExtension(() => ({ ...handshakeOf(peer.wallet, options.marketFloor), ...(options.marketBackend ? { backends: [options.marketBackend.backend], chainId: options.marketBackend.chainId } : {}) }), (extension) => {
        extension.on('message', (message) => {
          peer.inbox.push(message)
          if (message.type === 'bid' && message.price > 0n) extension.send({ type: 'bid-response', rate: message.price, rank: 1, paidSlots: 1 })
          if (message.type === 'voucher' && options.refuseVouchers) {
            extension.send({ type: 'reject', code: options.refuseVouchers, about: 'voucher', reason: 'refused by a scripted seller' })
            extension.send({ type: 'receipt', channel: message.channel, nonce: 0, amount: 0n, limit: 10n ** 30n })
          }
        })
      }))
    }
    socket.pipe(wire).pipe(socket)
    wire.on('error', () => socket.destroy())
    wire.on('handshake', (infoHash: string) => {
      peer.handshakes++
      wire.handshake(infoHash, randomBytes(20))
      const all = new BitField(meta.pieceCount)
      for (let i = 0; i < meta.pieceCount; i++) all.set(i, true)
      wire.bitfield(all)
    })
    wire.on('interested', () => wire.unchoke())
    wire.on('request', (index: number, offset: number, length: number, respond: (err: Error | null, data?: Uint8Array) => void) => {
      const key = `${index}:${offset}`
      peer.requests.set(key, (peer.requests.get(key) ?? 0) + 1)
      if (options.delivery === 'withhold') return
      const piece = Buffer.alloc(pieceLengthOf(meta, index))
      storage.readPiece(index, piece).then((data) => {
        const block = Buffer.from(data.subarray(offset, offset + length))
        if (options.delivery === 'honest' || options.corrupts?.(index, offset) === false) return respond(null, block)
        for (let i = 0; i < block.length; i += 997) block[i] = block[i]! ^ 0xff
        peer.corruptBlocksSent++
        respond(null, block)
      }, (err: Error) => respond(err))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return Object.assign(peer, { port: (server.address() as AddressInfo).port })
}
