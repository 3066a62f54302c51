import bencode from 'bencode'
import { addressRule, isWalletAddress } from '../money/address.js'
import { errorMessage } from '../util/errors.js'
import { MAX_AMOUNT } from '../money/price.js'
import { BACKENDS, CHANNEL_ID_BYTES, SIGNATURE_BYTES, type Backend } from '../money/voucher.js'

/**
 * The bid extension's messages (docs/protocol.md): bencoded dictionaries sent as BEP 10 extended
 * messages under the name EXTENSION_NAME. Decoding never throws; every field is checked for type,
 * size and range, and anything else is reported as malformed.
 */

export const EXTENSION_NAME = 'bt_bid'
/** Version 2 adds `receipt` (t = 6): what the seller holds and accepts on a channel. */
export const PROTOCOL_VERSION = 2
/** The first version whose peers understand `receipt`. */
export const RECEIPT_VERSION = 2
/** No message of this protocol comes near this size; anything longer is refused before decoding. */
export const MAX_MARKET_MESSAGE_BYTES = 1024
export const MAX_REASON_BYTES = 200
const MAX_DECIMAL_DIGITS = 78 // 2^256 - 1 has 78 digits

export const MESSAGE_TYPES = { bid: 1, 'bid-response': 2, 'payment-request': 3, voucher: 4, reject: 5, receipt: 6 } as const
export type MessageTypeName = keyof typeof MESSAGE_TYPES

export const REJECT_CODES = {
  malformed: 1,
  'unsupported-version': 2,
  'below-floor': 3,
  'unsupported-backend': 4,
  'wrong-chain': 5,
  'unknown-channel': 6,
  'bad-signature': 7,
  'stale-nonce': 8,
  'amount-decreased': 9,
  'over-funds': 10,
  'self-trade': 11,
  'over-budget': 12
} as const
export type RejectCode = keyof typeof REJECT_CODES

/** What each side announces in the BEP 10 extended handshake, under the key EXTENSION_NAME. */
export interface MarketHandshake {
  readonly version: number
  /** TRON base58 address of the peer's wallet. */
  readonly wallet: string
  readonly chainId: number
  readonly backends: readonly Backend[]
  /** A seeder's lowest accepted price, base units per MiB. */
  readonly floor?: bigint
}

export interface BidMessage {
  readonly type: 'bid'
  /** Base units per MiB; 0 withdraws the bid. */
  readonly price: bigint
  readonly channel: Uint8Array
  readonly backend: Backend
}

export interface BidResponseMessage {
  readonly type: 'bid-response'
  /** What the bidder pays per MiB while it holds a paid slot (the clearing price). */
  readonly rate: bigint
  /** 1 = the highest bid; 0 = no paid slot. */
  readonly rank: number
  readonly paidSlots: number
}

export interface PaymentRequestMessage {
  readonly type: 'payment-request'
  readonly channel: Uint8Array
  /** Everything owed on the channel so far (cumulative, base units). */
  readonly owed: bigint
}

export interface VoucherMessage {
  readonly type: 'voucher'
  readonly channel: Uint8Array
  readonly nonce: number
  /** Cumulative amount paid on the channel, base units. */
  readonly amount: bigint
  readonly signature: Uint8Array
}

export interface RejectMessage {
  readonly type: 'reject'
  readonly code: RejectCode
  /** The type of the message being refused. */
  readonly about: MessageTypeName
  readonly reason: string
}

/**
 * Seller → bidder (version 2): the best voucher the seller holds on the channel, stored durably
 * before this is sent, and the most it will accept there (its credit cap, or the deposit it read).
 * Sent when it accepts a bid, after every voucher it judges (stored or refused), and when a bidder
 * re-sends the voucher it already holds: the bidder's books follow it.
 */
export interface ReceiptMessage {
  readonly type: 'receipt'
  readonly channel: Uint8Array
  /** 0 while the seller holds no voucher on the channel. */
  readonly nonce: number
  /** The cumulative amount of that voucher, base units. */
  readonly amount: bigint
  /** The most a voucher on this channel may add up to, for this seller, base units. */
  readonly limit: bigint
}

export type MarketMessage = BidMessage | BidResponseMessage | PaymentRequestMessage | VoucherMessage | RejectMessage | ReceiptMessage

export type Decoded<T> = { readonly ok: true, readonly value: T } | { readonly ok: false, readonly error: string }

// ---------------------------------------------------------------- encoding

export function encodeHandshake (handshake: MarketHandshake): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    v: handshake.version,
    wallet: handshake.wallet,
    chain: handshake.chainId,
    backends: [...handshake.backends]
  }
  if (handshake.floor !== undefined) fields.floor = handshake.floor.toString()
  return fields
}

export function encodeMessage (message: MarketMessage): Uint8Array {
  const t = MESSAGE_TYPES[message.type]
  switch (message.type) {
    case 'bid':
      return bencode.encode({ t, price: message.price.toString(), channel: message.channel, backend: message.backend })
    case 'bid-response':
      return bencode.encode({ t, rate: message.rate.toString(), rank: message.rank, slots: message.paidSlots })
    case 'payment-request':
      return bencode.encode({ t, channel: message.channel, owed: message.owed.toString() })
    case 'voucher':
      return bencode.encode({ t, channel: message.channel, nonce: message.nonce, amount: message.amount.toString(), sig: message.signature })
    case 'reject':
      return bencode.encode({ t, code: REJECT_CODES[message.code], about: MESSAGE_TYPES[message.about], reason: message.reason.slice(0, MAX_REASON_BYTES) })
    case 'receipt':
      return bencode.encode({ t, channel: message.channel, nonce: message.nonce, amount: message.amount.toString(), limit: message.limit.toString() })
  }
}

// ---------------------------------------------------------------- decoding

class Malformed extends Error {}

function fail (message: string): never {
  throw new Malformed(message)
}

type Fields = Record<string, unknown>

function dictionary (value: unknown, what: string): Fields {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || Array.isArray(value)) fail(`${what} is not a dictionary`)
  return value as Fields
}

function bytes (fields: Fields, key: string, length?: number, max = MAX_MARKET_MESSAGE_BYTES): Uint8Array {
  const value = fields[key]
  if (!(value instanceof Uint8Array)) fail(`"${key}" is missing or not a byte string`)
  if (length !== undefined && value.length !== length) fail(`"${key}" must be ${length} bytes, not ${value.length}`)
  if (value.length > max) fail(`"${key}" is longer than ${max} bytes`)
  return value
}

function text (fields: Fields, key: string, max: number): string {
  const raw = bytes(fields, key, undefined, max)
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(raw)
  return decoded
}

function integer (fields: Fields, key: string, min: number, max: number): number {
  const value = fields[key]
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(`"${key}" is missing or not an integer`)
  if (value < min || value > max) fail(`"${key}" is out of range (${min} to ${max})`)
  return value
}

/** Amounts travel as decimal strings: bencode integers past 2^53 do not survive most decoders. */
function amount (fields: Fields, key: string): bigint {
  const raw = bytes(fields, key, undefined, MAX_DECIMAL_DIGITS)
  const digits = new TextDecoder().decode(raw)
  if (!/^(0|[1-9][0-9]*)$/.test(digits)) fail(`"${key}" is not a decimal amount`)
  const value = BigInt(digits)
  if (value > MAX_AMOUNT) fail(`"${key}" is larger than 2^256 - 1`)
  return value
}

function backend (value: unknown, key: string): Backend {
  if (!(value instanceof Uint8Array) || value.length > 16) fail(`"${key}" is not a backend name`)
  const name = new TextDecoder().decode(value)
  if (!(BACKENDS as readonly string[]).includes(name)) fail(`"${key}" names an unknown backend "${name}"`)
  return name as Backend
}

function messageTypeName (code: number): MessageTypeName | undefined {
  return (Object.keys(MESSAGE_TYPES) as MessageTypeName[]).find((name) => MESSAGE_TYPES[name] === code)
}

function decodeDictionary (data: Uint8Array): Fields {
  if (data.length > MAX_MARKET_MESSAGE_BYTES) fail(`message of ${data.length} bytes is over the ${MAX_MARKET_MESSAGE_BYTES}-byte limit`)
  let decoded: unknown
  try {
    decoded = bencode.decode(data)
  } catch {
    fail('not valid bencode')
  }
  return dictionary(decoded, 'message')
}

function attempt<T> (decode: () => T): Decoded<T> {
  try {
    return { ok: true, value: decode() }
  } catch (err) {
    // Only our own checks and the bencode decoder run in here; anything else is a bug, reported as malformed all the same.
    return { ok: false, error: errorMessage(err) }
  }
}

/** Reads the peer's entry of the extended handshake (the value under EXTENSION_NAME). */
export function decodeHandshake (value: unknown): Decoded<MarketHandshake> {
  return attempt(() => {
    const fields = dictionary(value, 'handshake entry')
    const version = integer(fields, 'v', 1, 0xffff)
    const wallet = text(fields, 'wallet', 64)
    if (!isWalletAddress(wallet, 'tron')) fail(`"wallet" is not ${addressRule('tron')}`)
    const chainId = integer(fields, 'chain', 0, Number.MAX_SAFE_INTEGER)
    const list = fields.backends
    if (!Array.isArray(list) || list.length === 0 || list.length > 8) fail('"backends" must list 1 to 8 backends')
    const backends = [...new Set(list.map((entry) => backend(entry, 'backends')))]
    const handshake: MarketHandshake = { version, wallet, chainId, backends }
    return fields.floor === undefined ? handshake : { ...handshake, floor: amount(fields, 'floor') }
  })
}

export function decodeMessage (data: Uint8Array): Decoded<MarketMessage> {
  return attempt((): MarketMessage => {
    const fields = decodeDictionary(data)
    const type = messageTypeName(integer(fields, 't', 0, 255))
    switch (type) {
      case 'bid':
        return { type, price: amount(fields, 'price'), channel: bytes(fields, 'channel', CHANNEL_ID_BYTES), backend: backend(fields.backend, 'backend') }
      case 'bid-response':
        return { type, rate: amount(fields, 'rate'), rank: integer(fields, 'rank', 0, 0xffff), paidSlots: integer(fields, 'slots', 0, 0xffff) }
      case 'payment-request':
        return { type, channel: bytes(fields, 'channel', CHANNEL_ID_BYTES), owed: amount(fields, 'owed') }
      case 'voucher':
        return {
          type,
          channel: bytes(fields, 'channel', CHANNEL_ID_BYTES),
          nonce: integer(fields, 'nonce', 1, Number.MAX_SAFE_INTEGER),
          amount: amount(fields, 'amount'),
          signature: bytes(fields, 'sig', SIGNATURE_BYTES)
        }
      case 'reject': {
        const code = integer(fields, 'code', 1, 255)
        const name = (Object.keys(REJECT_CODES) as RejectCode[]).find((key) => REJECT_CODES[key] === code)
        const about = messageTypeName(integer(fields, 'about', 0, 255))
        if (!name) fail(`unknown reject code ${code}`)
        if (!about) fail('"about" names no message type')
        return { type, code: name, about, reason: text(fields, 'reason', MAX_REASON_BYTES) }
      }
      case 'receipt':
        return {
          type,
          channel: bytes(fields, 'channel', CHANNEL_ID_BYTES),
          nonce: integer(fields, 'nonce', 0, Number.MAX_SAFE_INTEGER),
          amount: amount(fields, 'amount'),
          limit: amount(fields, 'limit')
        }
      default:
        return fail('unknown message type')
    }
  })
}
