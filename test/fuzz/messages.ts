import bencode from 'bencode'
import { encodeMessage, type MarketMessage } from '../../src/market/codec.js'
import { voucherFrom, type TestWallet } from '../../testkit/market-peer.js'

/** A small seeded generator (xorshift32), so that a failing run can be replayed from its seed. */
export class Random {
  private state: number

  constructor (seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9
  }

  next (): number {
    let x = this.state
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.state = x >>> 0
    return this.state / 0x100000000
  }

  int (below: number): number {
    return Math.floor(this.next() * below)
  }

  pick<T> (items: readonly T[]): T {
    return items[this.int(items.length)]!
  }

  bytes (length: number): Buffer {
    const out = Buffer.alloc(length)
    for (let i = 0; i < length; i++) out[i] = this.int(256)
    return out
  }

  /** Numbers a parser must survive: small, boundary, and past 2^31 and 2^32. */
  uint32 (): number {
    return this.pick([0, 1, 2, 16383, 16384, 16385, 0x7fffffff, 0x80000000, 0xffffc000, 0xffffffff, this.int(1000), this.int(0x100000000)])
  }
}

/** One framed BitTorrent message: length, id, payload. */
export function frame (id: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const header = Buffer.alloc(5)
  header.writeUInt32BE(payload.length + 1, 0)
  header[4] = id
  return Buffer.concat([header, payload])
}

function uint32s (...values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4)
  values.forEach((value, i) => out.writeUInt32BE(value >>> 0, i * 4))
  return out
}

/** What the attacker knows of the daemon: the extension ids it announced, the torrent's size, a wallet to sign with. */
export interface Target {
  readonly pieceCount: number
  readonly infoHash: string
  /** The daemon's ids for its extensions (from its extended handshake). */
  readonly extensionIds: Readonly<Record<string, number>>
  readonly sellerWallet: string | undefined
  readonly wallet: TestWallet
}

const AMOUNTS = [0n, 1n, 10n ** 18n, 10n ** 30n, (1n << 256n) - 1n]

/** A bid-extension message that looks valid (bids, vouchers with bad or replayed signatures, receipts, rejects), or its bytes mangled. */
function marketPayload (random: Random, target: Target): Uint8Array {
  const channel = random.bytes(32)
  const messages: Array<() => MarketMessage> = [
    () => ({ type: 'bid', price: random.pick(AMOUNTS), channel, backend: random.pick(['embedded', 'evm', 'tron'] as const) }),
    () => ({ type: 'bid-response', rate: random.pick(AMOUNTS), rank: random.int(70_000) % 0x10000, paidSlots: random.int(0x10000) }),
    () => ({ type: 'payment-request', channel, owed: random.pick(AMOUNTS) }),
    () => ({ type: 'voucher', channel, nonce: 1 + random.int(1000), amount: random.pick(AMOUNTS), signature: random.bytes(65) }),
    () => target.sellerWallet
      ? voucherFrom(target.wallet, target.wallet.address, target.sellerWallet, target.infoHash, 1 + random.int(5), BigInt(random.int(1_000_000)))
      : { type: 'voucher', channel, nonce: 1, amount: 1n, signature: random.bytes(65) },
    () => ({ type: 'receipt', channel, nonce: random.int(1000), amount: random.pick(AMOUNTS), limit: random.pick(AMOUNTS) }),
    () => ({ type: 'reject', code: random.pick(['malformed', 'over-funds', 'stale-nonce', 'bad-signature'] as const), about: random.pick(['bid', 'voucher'] as const), reason: random.bytes(random.int(300)).toString('latin1') })
  ]
  const encoded = Buffer.from(encodeMessage(random.pick(messages)()))
  return mutate(random, encoded)
}

/**
 * A PEX message listing up to a thousand peers, the odd ones (0.0.0.0, multicast, broadcast)
 * among them; the rest on loopback, where nobody listens, so the calls it draws stay here.
 */
function pexPayload (random: Random): Buffer {
  const compact = (octets: readonly number[], port: number): Buffer => Buffer.from([...octets, port >> 8, port & 0xff])
  const peers = Array.from({ length: random.int(1000) }, () => random.next() < 0.1
    ? compact(random.pick([[0, 0, 0, 0], [224, 0, 0, 1], [255, 255, 255, 255]]), 6881)
    : compact([127, 1 + random.int(254), random.int(256), 1 + random.int(254)], 1 + random.int(1023)))
  const message: Record<string, Buffer> = { added: Buffer.concat(peers) }
  if (random.next() < 0.3) message.dropped = Buffer.concat(peers.slice(0, random.int(peers.length + 1)))
  return Buffer.from(bencode.encode(message))
}

/** Sometimes the bytes as they are, sometimes flipped, cut short, grown or replaced. */
function mutate (random: Random, bytes: Buffer): Buffer {
  switch (random.int(6)) {
    case 0: {
      const copy = Buffer.from(bytes)
      for (let flips = 1 + random.int(4); flips > 0 && copy.length > 0; flips--) copy[random.int(copy.length)] = random.int(256)
      return copy
    }
    case 1: return bytes.subarray(0, random.int(bytes.length + 1))
    case 2: return Buffer.concat([bytes, random.bytes(random.int(64))])
    case 3: return random.bytes(random.int(2000))
    default: return bytes
  }
}

/** An extended handshake, sent again: ids of 0 (turned off), 255, or random, for every extension there is. */
function extendedHandshake (random: Random): Buffer {
  const m: Record<string, number> = {}
  for (const name of ['ut_metadata', 'ut_pex', 'bt_bid', 'lt_donthave', 'upload_only']) if (random.next() < 0.7) m[name] = random.pick([0, 1, 2, 3, 255, random.int(256)])
  const fields: Record<string, unknown> = { m }
  if (random.next() < 0.5) fields.metadata_size = random.pick([0, -1, 1, 16384, 2 ** 31, 2 ** 40])
  if (random.next() < 0.5) fields.bt_bid = random.pick([{}, { v: 2, wallet: 'T'.repeat(34), chain: 0, backends: ['embedded'] }, 'junk', [1, 2, 3]])
  if (random.next() < 0.3) fields.p = random.pick([0, 65536, -5, 6881])
  return Buffer.concat([Buffer.from([0]), Buffer.from(bencode.encode(fields))])
}

/** One message an attacker sends: every message id, valid-looking payloads, boundary numbers, and garbage. */
export function nextMessage (random: Random, target: Target): Buffer {
  const piece = random.next() < 0.8 ? random.int(Math.max(1, target.pieceCount)) : random.uint32()
  switch (random.int(16)) {
    case 0: return frame(random.int(4)) // choke, unchoke, interested, not interested
    case 1: return frame(4, uint32s(piece))
    case 2: return frame(5, random.bytes(random.next() < 0.8 ? Math.ceil(target.pieceCount / 8) : random.int(4000)))
    case 3: return frame(6, uint32s(piece, random.uint32(), random.uint32()))
    case 4: return frame(7, Buffer.concat([uint32s(piece, random.uint32()), random.bytes(random.pick([0, 1, 16384, 16385, random.int(20_000)]))]))
    case 5: return frame(8, uint32s(piece, random.uint32(), random.uint32()))
    case 6: return frame(9, random.bytes(random.pick([0, 1, 2, 3])))
    case 7: return frame(random.pick([13, 14, 15, 16, 17]), uint32s(piece, random.uint32(), random.uint32()).subarray(0, random.pick([0, 4, 12])))
    case 8: return frame(20, extendedHandshake(random))
    case 9:
    case 10: {
      const name = random.pick(Object.keys(target.extensionIds))
      const id = name ? target.extensionIds[name]! : random.int(256)
      const payload = name === 'bt_bid'
        ? marketPayload(random, target)
        : name === 'ut_pex' && random.next() < 0.5
          ? pexPayload(random)
          : mutate(random, Buffer.from(bencode.encode({ msg_type: random.int(4), piece: random.uint32(), total_size: random.uint32() })))
      return frame(20, Buffer.concat([Buffer.from([id]), payload]))
    }
    case 11: return frame(20, Buffer.concat([Buffer.from([random.int(256)]), random.bytes(random.int(300))]))
    case 12: return frame(random.int(256), random.bytes(random.int(100)))
    case 13: {
      // A length that lies: shorter or longer than what follows (a parser must resync or hang up).
      const header = Buffer.alloc(4)
      header.writeUInt32BE(random.pick([0, 1, 5, 13, 16_397, 300_000, 0x7fffffff, random.int(100_000)]), 0)
      return Buffer.concat([header, random.bytes(random.int(64))])
    }
    case 14: return Buffer.alloc(4) // keep-alive
    default: return random.bytes(1 + random.int(200))
  }
}
