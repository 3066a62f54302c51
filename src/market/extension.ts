import { EventEmitter } from 'node:events'
import type Wire from 'bittorrent-protocol'
import type { ExtendedHandshake, WireExtension, WireExtensionFactory } from 'bittorrent-protocol'
import {
  EXTENSION_NAME, PROTOCOL_VERSION, RECEIPT_VERSION, decodeHandshake, decodeMessage, encodeHandshake, encodeMessage,
  type MarketHandshake, type MarketMessage
} from './codec.js'

export interface MarketExtensionEvents {
  /** The peer speaks the extension; its handshake entry is valid. */
  handshake: [remote: MarketHandshake]
  message: [message: MarketMessage]
  /** Something the peer sent was dropped; the connection carries on. */
  malformed: [error: string]
}

/**
 * The bid extension on one wire (BEP 10, name `bt_bid`): announces our entry in the extended
 * handshake, decodes the peer's messages and sends ours. Everything it receives is validated by the
 * codec first; nothing malformed reaches a listener, and nothing here throws into the wire.
 */
export class MarketExtension extends EventEmitter<MarketExtensionEvents> implements WireExtension {
  readonly name = EXTENSION_NAME
  remote: MarketHandshake | undefined

  constructor (private readonly wire: Wire, local: MarketHandshake) {
    super()
    wire.extendedHandshake[EXTENSION_NAME] = encodeHandshake(local)
  }

  onExtendedHandshake (handshake: ExtendedHandshake): void {
    const decoded = decodeHandshake(handshake[EXTENSION_NAME])
    if (!decoded.ok) return void this.emit('malformed', `handshake: ${decoded.error}`)
    this.remote = { ...decoded.value, version: Math.min(decoded.value.version, PROTOCOL_VERSION) }
    this.emit('handshake', this.remote)
  }

  onMessage (payload: Uint8Array): void {
    if (!this.remote) return void this.emit('malformed', 'a message before a valid handshake')
    const decoded = decodeMessage(payload)
    if (!decoded.ok) return void this.emit('malformed', decoded.error)
    this.emit('message', decoded.value)
  }

  /**
   * Announces changed terms (a new floor) to a peer that already shook hands: BEP 10 lets a peer
   * send its extended handshake again, and the other side takes the newer one.
   */
  announce (local: MarketHandshake): void {
    this.wire.extendedHandshake[EXTENSION_NAME] = encodeHandshake(local)
    if (this.remote) (this.wire as unknown as { _sendExtendedHandshake (): void })._sendExtendedHandshake()
  }

  /** False when the peer does not speak the extension, or not the version the message needs (nothing is sent). */
  send (message: MarketMessage): boolean {
    if (!this.remote) return false
    if (message.type === 'receipt' && this.remote.version < RECEIPT_VERSION) return false
    this.wire.extended(EXTENSION_NAME, encodeMessage(message))
    return true
  }
}

/**
 * The factory bittorrent-protocol's `wire.use()` takes; `onCreate` receives each wire's extension.
 * `local` is read per wire, so a changed floor reaches every new connection.
 */
export function marketExtension (local: () => MarketHandshake, onCreate: (extension: MarketExtension, wire: Wire) => void): WireExtensionFactory {
  class BoundMarketExtension extends MarketExtension {
    constructor (wire: Wire) {
      super(wire, local())
      onCreate(this, wire)
    }
  }
  Object.defineProperty(BoundMarketExtension.prototype, 'name', { value: EXTENSION_NAME })
  return BoundMarketExtension
}
