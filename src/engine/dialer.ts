import { connect as netConnect, isIPv4 } from 'node:net'
import type { Logger } from 'winston'
import { Peer } from './peer.js'
import { encryptionOf, wireOnSocket, type PeerSocket, type Transport } from './peer-socket.js'
import type { EncryptionPolicy } from './settings.js'
import { sharedReadOption } from './shared-read.js'
import type { UtpEndpoint } from './utp-endpoint.js'
import type { BoundedWire } from './wire.js'

const CONNECT_TIMEOUT_MS: Record<Transport, number> = {
  tcp: 15_000,
  // libutp gets no word of a closed UDP port: a peer without uTP shows only as silence (libtorrent waits 3 s).
  utp: 5_000
}
/**
 * uTP is tried first and TCP joins if it has not connected by then: a uTP connection is set up
 * in one round trip, so a peer that speaks it is on uTP, and one that does not (aria2, rtorrent)
 * costs a second. libtorrent tries uTP first too, falling back to TCP only once uTP has failed.
 */
const UTP_HEAD_START_MS = 1_000

/** The torrent's side of a call: what it sends and whether it takes the peer that answers. */
export interface DialTarget {
  readonly infoHash: string
  prepareWire (wire: BoundedWire): void
  acceptsPeer (peerId: string, address: string, direction: 'outgoing'): boolean
  connectFailed (address: string, reason: string): void
}

export interface DialerInit {
  readonly peerId: string
  readonly dht: boolean
  readonly tcp: boolean
  readonly encryption: EncryptionPolicy
  readonly encryptPayload: boolean
  readonly utp: UtpEndpoint | undefined
  readonly log: Logger
  /** Every socket the dialer opens, so the engine can close them at stop. */
  readonly track: (socket: PeerSocket) => void
  readonly attach: (peer: Peer) => void
}

/**
 * Calls a peer: over uTP and TCP (as enabled), keeping the first transport that connects, then
 * the BitTorrent handshake on it. The losing attempt is closed before anything was sent on it.
 */
export function dial (address: string, target: DialTarget, init: DialerInit): void {
  new Dial(address, target, init, init.encryption !== 'plaintext').start()
}

class Dial {
  private readonly host: string
  private readonly port: number
  private readonly attempts = new Map<Transport, PeerSocket>()
  private readonly failures: string[] = []
  private wire: BoundedWire | undefined
  private winner: Transport | undefined
  private settled = false
  private tcpTimer: NodeJS.Timeout | undefined

  constructor (
    private readonly address: string,
    private readonly target: DialTarget,
    private readonly init: DialerInit,
    /** Whether this call opens with MSE. */
    private readonly encrypted: boolean,
    /** A retry goes by the transport that connected the first time. */
    private readonly only?: Transport
  ) {
    const separator = address.lastIndexOf(':')
    this.host = address.slice(0, separator).replace(/^\[|\]$/g, '')
    this.port = Number(address.slice(separator + 1))
  }

  start (): void {
    const utpEndpoint = isIPv4(this.host) && this.only !== 'tcp' ? this.init.utp : undefined
    const tcp = this.init.tcp && this.only !== 'utp'
    if (utpEndpoint) {
      this.watch('utp', utpEndpoint.connect(this.host, this.port))
      if (tcp) this.tcpTimer = setTimeout(() => this.startTcp(), UTP_HEAD_START_MS)
    } else if (tcp) {
      this.startTcp()
    } else {
      this.fail('no transport reaches it (uTP is IPv4 only here, and TCP is off)')
    }
  }

  private startTcp (): void {
    this.tcpTimer = undefined
    if (this.settled || this.winner !== undefined) return
    this.watch('tcp', netConnect({ host: this.host, port: this.port, noDelay: true, onread: sharedReadOption(() => this.winner === 'tcp' ? this.wire : undefined) }))
  }

  private watch (transport: Transport, socket: PeerSocket): void {
    this.attempts.set(transport, socket)
    this.init.track(socket)
    const timer = setTimeout(() => this.attemptFailed(transport, socket, 'timed out'), CONNECT_TIMEOUT_MS[transport])
    socket.once('error', (err: Error) => this.attemptFailed(transport, socket, err.message))
    socket.once('close', () => { clearTimeout(timer); this.attemptFailed(transport, socket, 'closed before the handshake') })
    socket.once('connect', () => { clearTimeout(timer); this.connected(transport, socket) })
  }

  private attemptFailed (transport: Transport, socket: PeerSocket, reason: string): void {
    // A loser closed on purpose, or the second event (close after error) of one already counted.
    if (this.settled || this.attempts.get(transport) !== socket) return
    if (this.winner !== undefined) return this.fail(reason)
    socket.destroy()
    this.attempts.delete(transport)
    this.failures.push(`${transport}: ${reason}`)
    if (transport === 'utp' && this.tcpTimer !== undefined) {
      clearTimeout(this.tcpTimer)
      this.startTcp()
    } else if (this.attempts.size === 0) {
      this.fail(this.failures.join('; '))
    }
  }

  private connected (transport: Transport, socket: PeerSocket): void {
    if (this.settled || this.winner !== undefined) return
    this.winner = transport
    clearTimeout(this.tcpTimer)
    for (const [other, otherSocket] of this.attempts) {
      if (other === transport) continue
      this.attempts.delete(other)
      otherSocket.destroy()
    }
    this.handshake(transport, socket)
  }

  private handshake (transport: Transport, socket: PeerSocket): void {
    const { target, init, address } = this
    const pe = !this.encrypted ? 0 : init.encryptPayload ? 2 : 1
    const wire = wireOnSocket(socket, { direction: 'outgoing', transport, pe, readsIntoWire: transport === 'tcp', log: init.log })
    this.wire = wire
    target.prepareWire(wire)
    const sendHandshake = (): void => wire.handshake(target.infoHash, init.peerId, { dht: init.dht, fast: true })
    if (this.encrypted) {
      wire.once('crypto-handshake', sendHandshake)
      wire.startEncryption(target.infoHash)
    } else {
      sendHandshake()
    }
    wire.once('handshake', (infoHash: string, peerId: string) => {
      if (infoHash !== target.infoHash || !target.acceptsPeer(peerId, address, 'outgoing')) {
        return this.fail(peerId === init.peerId ? 'connected to ourselves' : 'handshake refused', false)
      }
      if (init.encryption === 'require' && encryptionOf(wire) === 'none') return this.fail('it answered in plaintext, and encryption is required', false)
      this.settled = true
      init.attach(new Peer(wire, socket, address, 'outgoing', transport))
    })
  }

  /** `retryable`: a failure before the peer's handshake, which plaintext may get past. */
  private fail (reason: string, retryable = true): void {
    if (this.settled) return
    this.settled = true
    clearTimeout(this.tcpTimer)
    for (const socket of this.attempts.values()) socket.destroy()
    // Connected, then closed during an encrypted handshake: some peers take only plaintext (libtorrent retries so too).
    if (retryable && this.encrypted && this.init.encryption === 'prefer' && this.winner !== undefined) {
      this.init.log.debug('encrypted call closed: calling again in plaintext', { peer: this.address })
      new Dial(this.address, this.target, this.init, false, this.winner).start()
      return
    }
    this.init.log.debug('outgoing connection failed', { peer: this.address, reason })
    this.target.connectFailed(this.address, reason)
  }
}
