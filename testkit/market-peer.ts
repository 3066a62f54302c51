import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import Wire from 'bittorrent-protocol'
import { addressOfPrivateKey } from '../src/money/address.js'
import { PROTOCOL_VERSION, type MarketHandshake, type MarketMessage, type VoucherMessage } from '../src/market/codec.js'
import { MarketExtension, marketExtension } from '../src/market/extension.js'
import { NO_CONTRACT, channelIdFor, signVoucher } from '../src/money/voucher.js'

/** The voucher domain of a daemon on the embedded backend with the default chain id. */
export const EMBEDDED_DOMAIN = { chainId: 0, verifyingContract: NO_CONTRACT }

export interface TestWallet {
  readonly privateKey: string
  readonly address: string
}

export function newWallet (): TestWallet {
  const privateKey = randomBytes(32).toString('hex')
  return { privateKey, address: addressOfPrivateKey(privateKey) }
}

/** A voucher signed by `signer` (normally the payer) on the channel payer → payee for the torrent. */
export function voucherFrom (signer: TestWallet, payer: string, payee: string, infoHash: string, nonce: number, amount: bigint): VoucherMessage {
  return { type: 'voucher', ...signVoucher(signer.privateKey, EMBEDDED_DOMAIN, { channel: channelIdFor(payer, payee, infoHash), nonce, amount }) }
}

export function handshakeOf (wallet: TestWallet, floor?: bigint): MarketHandshake {
  return { version: PROTOCOL_VERSION, wallet: wallet.address, chainId: 0, backends: ['embedded'], ...(floor !== undefined ? { floor } : {}) }
}

/** Collects a wire's market messages, so a test can wait for the next one of a type. */
export class Inbox {
  private readonly messages: MarketMessage[] = []
  private waiting: Array<() => void> = []

  push (message: MarketMessage): void {
    this.messages.push(message)
    for (const wake of this.waiting) wake()
    this.waiting = []
  }

  all (): readonly MarketMessage[] {
    return this.messages
  }

  async next<T extends MarketMessage['type']> (type: T, timeoutMs = 30_000): Promise<Extract<MarketMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const index = this.messages.findIndex((message) => message.type === type)
      if (index >= 0) return this.messages.splice(index, 1)[0] as Extract<MarketMessage, { type: T }>
      if (Date.now() > deadline) throw new Error(`no ${type} message within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve)
        setTimeout(resolve, 200)
      })
    }
  }
}

export interface MarketBuyer {
  readonly wallet: TestWallet
  /** The seller's market handshake. */
  readonly seller: MarketHandshake
  readonly inbox: Inbox
  send (message: MarketMessage): void
  close (): void
}

/** A scripted buyer: connects to a daemon's peer port, shakes hands with the extension, and sends what the test tells it. */
export async function connectMarketBuyer (port: number, infoHash: string, wallet: TestWallet = newWallet()): Promise<MarketBuyer> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const wire = new Wire()
  const inbox = new Inbox()
  let extension: MarketExtension | undefined
  wire.use(marketExtension(() => handshakeOf(wallet), (created) => {
    extension = created
    created.on('message', (message) => inbox.push(message))
  }))
  socket.pipe(wire).pipe(socket)
  wire.on('error', () => socket.destroy())
  await once(socket, 'connect')
  const shaken = once(wire, 'extended')
  wire.handshake(infoHash, randomBytes(20))
  await shaken
  const seller = extension?.remote
  if (!extension || !seller) throw new Error('the daemon did not answer with a market handshake')
  return {
    wallet,
    seller,
    inbox,
    send: (message) => { extension!.send(message) },
    close: () => { wire.destroy(); socket.destroy() }
  }
}
