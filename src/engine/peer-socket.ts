import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import { readIntoSharedBuffer } from './shared-read.js'
import { sent } from './upload-buffers.js'
import { BoundedWire } from './wire.js'

const HANDSHAKE_TIMEOUT_MS = 20_000

export type Direction = 'incoming' | 'outgoing'

/** What a peer connection runs over. Both are streams; only TCP reads into the shared buffer. */
export type Transport = 'tcp' | 'utp'

/** How a connection's bytes travel: MSE with an RC4 payload, MSE for the handshake only, or none. */
export type Encryption = 'rc4' | 'handshake' | 'none'

export function encryptionOf (wire: BoundedWire): Encryption {
  const method = wire._encryptionMethod
  return method === 2 ? 'rc4' : method === 1 ? 'handshake' : 'none'
}

/** A TCP socket or a uTP connection. */
export type PeerSocket = Duplex

/** bittorrent-protocol's PE setting: 0 = plaintext only, 1 = MSE with plaintext or RC4 payload, 2 = MSE with RC4 only. */
export type PeLevel = 0 | 1 | 2

export interface WireOptions {
  readonly direction: Direction
  readonly transport: Transport
  readonly pe: PeLevel
  /** An outgoing TCP socket opened with `sharedReadOption`: it already reads into the wire. */
  readonly readsIntoWire?: boolean
  readonly log: Logger
}

/**
 * Puts a bittorrent-protocol wire on a connected socket: the socket's bytes go to the wire, the
 * wire's to the socket (corked per tick), and either side ending or failing closes both. A peer
 * that does not finish its handshake in 20 s is dropped.
 */
export function wireOnSocket (socket: PeerSocket, options: WireOptions): BoundedWire {
  const { direction, transport, log } = options
  // The type names the direction: bittorrent-protocol answers MSE on 'Incoming' wires and opens it on 'Outgoing' ones.
  const wire = new BoundedWire(`${transport}${direction === 'incoming' ? 'Incoming' : 'Outgoing'}`, options.pe)
  if (options.readsIntoWire === true || (transport === 'tcp' && readIntoSharedBuffer(socket as Socket, wire))) {
    // A socket reading into its own buffer never emits 'data'; flowing mode still lets it emit 'end'.
    socket.once('end', () => wire.end())
    socket.resume()
  } else {
    socket.pipe(wire)
  }
  writeCorked(socket, wire)
  const handshakeTimer = setTimeout(() => {
    log.debug('handshake timed out', { direction, transport })
    socket.destroy()
  }, HANDSHAKE_TIMEOUT_MS)
  handshakeTimer.unref()
  wire.once('handshake', () => clearTimeout(handshakeTimer))
  wire.on('error', (err: Error) => {
    log.debug('wire error', { error: errorMessage(err) })
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

/**
 * Messages written in one tick leave in one writev: a request is 17 bytes, and one syscall each
 * was the leecher's largest cost.
 */
function writeCorked (socket: PeerSocket, wire: BoundedWire): void {
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
}
