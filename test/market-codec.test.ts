import t from 'tap'
import bencode from 'bencode'
import {
  MAX_MARKET_MESSAGE_BYTES, decodeHandshake, decodeMessage, encodeHandshake, encodeMessage,
  type MarketHandshake, type MarketMessage
} from '../src/market/codec.js'
import { MAX_AMOUNT } from '../src/money/price.js'

const WALLET = 'TJRabPrwbZy45sbavfcjinPJC18kjpRTv8'
const channel = new Uint8Array(32).fill(7)
const signature = new Uint8Array(65).fill(9)

const EVERY_MESSAGE: MarketMessage[] = [
  { type: 'bid', price: 500_000_000_000_000_000n, channel, backend: 'embedded' },
  { type: 'bid', price: 0n, channel, backend: 'evm' },
  { type: 'bid-response', rate: MAX_AMOUNT, rank: 3, paidSlots: 6 },
  { type: 'payment-request', channel, owed: 123_456_789_012_345_678_901_234n },
  { type: 'voucher', channel, nonce: Number.MAX_SAFE_INTEGER, amount: 1n, signature },
  { type: 'reject', code: 'stale-nonce', about: 'voucher', reason: 'nonce 4 is not above 7' },
  { type: 'receipt', channel, nonce: 0, amount: 0n, limit: 8_333_333_333_333_333_333_333_333n },
  { type: 'receipt', channel, nonce: 42, amount: MAX_AMOUNT, limit: MAX_AMOUNT }
]

function normalized (message: MarketMessage): unknown {
  return JSON.parse(JSON.stringify(message, (_key, value: unknown) => {
    if (typeof value === 'bigint') return `${value}n`
    if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
    return value
  }))
}

t.test('every message survives a round trip', async (t) => {
  for (const message of EVERY_MESSAGE) {
    const decoded = decodeMessage(encodeMessage(message))
    t.ok(decoded.ok, `${message.type} decodes`)
    if (decoded.ok) t.same(normalized(decoded.value), normalized(message), `${message.type} round-trips`)
  }
})

t.test('the handshake entry round-trips and is validated', async (t) => {
  const handshake: MarketHandshake = { version: 1, wallet: WALLET, chainId: 199, backends: ['embedded', 'evm'], floor: 10n ** 15n }
  const decoded = decodeHandshake(bencode.decode(bencode.encode(encodeHandshake(handshake))))
  t.ok(decoded.ok)
  if (decoded.ok) t.same({ ...decoded.value, floor: decoded.value.floor?.toString() }, { ...handshake, floor: handshake.floor!.toString() })
  const bad: Array<[string, unknown]> = [
    ['not a dictionary', Buffer.from('x')],
    ['a wallet with a broken checksum', { ...encodeHandshake(handshake), wallet: 'TJRabPrwbZy45sbavfcjinPJC18kjpRTv9' }],
    ['a wallet that is not base58', { ...encodeHandshake(handshake), wallet: 'T0000000000000000000000000000000000' }],
    ['no backends', { ...encodeHandshake(handshake), backends: [] }],
    ['an unknown backend', { ...encodeHandshake(handshake), backends: ['paypal'] }],
    ['version 0', { ...encodeHandshake(handshake), v: 0 }],
    ['a negative chain id', { ...encodeHandshake(handshake), chain: -1 }],
    ['a floor that is not decimal', { ...encodeHandshake(handshake), floor: '1e18' }]
  ]
  for (const [label, value] of bad) {
    const result = decodeHandshake(bencode.decode(bencode.encode(value)))
    t.notOk(result.ok, `refused: ${label}`)
  }
})

t.test('malformed, oversized and out-of-range messages are refused with a reason', async (t) => {
  const encode = (fields: Record<string, unknown>): Uint8Array => bencode.encode(fields)
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['not bencode', Buffer.from('hello')],
    ['a byte string, not a dictionary', bencode.encode('abc')],
    ['bencode list', bencode.encode([1, 2, 3])],
    ['unknown type', encode({ t: 99 })],
    ['type out of range', encode({ t: 100000 })],
    ['no type', encode({ price: '1' })],
    ['bid without channel', encode({ t: 1, price: '1', backend: 'embedded' })],
    ['bid with a short channel', encode({ t: 1, price: '1', channel: Buffer.alloc(31), backend: 'embedded' })],
    ['bid with a negative price', encode({ t: 1, price: '-1', channel, backend: 'embedded' })],
    ['bid with a leading zero', encode({ t: 1, price: '01', channel, backend: 'embedded' })],
    ['bid with a price as a bencode integer', encode({ t: 1, price: 5, channel, backend: 'embedded' })],
    ['bid above 2^256 - 1', encode({ t: 1, price: (MAX_AMOUNT + 1n).toString(), channel, backend: 'embedded' })],
    ['bid with an unknown backend', encode({ t: 1, price: '1', channel, backend: 'bank' })],
    ['response with a negative rank', encode({ t: 2, rate: '1', rank: -1, slots: 2 })],
    ['voucher with nonce 0', encode({ t: 4, channel, nonce: 0, amount: '1', sig: signature })],
    ['voucher with a 64-byte signature', encode({ t: 4, channel, nonce: 1, amount: '1', sig: Buffer.alloc(64) })],
    ['voucher with a fractional amount', encode({ t: 4, channel, nonce: 1, amount: '1.5', sig: signature })],
    ['reject with an unknown code', encode({ t: 5, code: 200, about: 4, reason: 'x' })],
    ['reject about no message', encode({ t: 5, code: 1, about: 42, reason: 'x' })],
    ['reject with a long reason', encode({ t: 5, code: 1, about: 4, reason: 'x'.repeat(201) })],
    ['oversized', encode({ t: 1, price: '1', channel, backend: 'embedded', pad: Buffer.alloc(MAX_MARKET_MESSAGE_BYTES) })],
    ['deeply nested', Buffer.from('d1:t' + 'l'.repeat(5000) + 'e'.repeat(5000) + 'e')]
  ]
  for (const [label, data] of cases) {
    const result = decodeMessage(data)
    t.notOk(result.ok, `refused: ${label}`)
    if (!result.ok) t.ok(result.error.length > 0, `${label}: says why (${result.error})`)
  }
})

t.test('fuzz: random and mutated messages never throw, and memory stays bounded', async (t) => {
  let seed = 12345
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x80000000
  }
  const valid = EVERY_MESSAGE.map((message) => Buffer.from(encodeMessage(message)))
  const heapBefore = process.memoryUsage().heapUsed
  let accepted = 0
  let refused = 0
  for (let i = 0; i < 50_000; i++) {
    let data: Buffer
    const kind = i % 3
    if (kind === 0) {
      data = Buffer.alloc(Math.floor(random() * 300))
      for (let j = 0; j < data.length; j++) data[j] = Math.floor(random() * 256)
    } else {
      data = Buffer.from(valid[Math.floor(random() * valid.length)]!)
      const mutations = 1 + Math.floor(random() * 4)
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(random() * data.length)
        const action = random()
        if (action < 0.5) data[at] = Math.floor(random() * 256)
        else if (action < 0.75) data = Buffer.concat([data.subarray(0, at), data.subarray(at + 1)])
        else data = Buffer.concat([data.subarray(0, at), Buffer.from([Math.floor(random() * 256)]), data.subarray(at)])
      }
    }
    let result: ReturnType<typeof decodeMessage>
    try {
      result = decodeMessage(data)
    } catch (err) {
      t.fail(`decodeMessage threw on ${data.toString('hex')}: ${String(err)}`)
      return
    }
    if (result.ok) accepted++
    else refused++
  }
  t.equal(accepted + refused, 50_000, 'every input got an answer')
  t.ok(refused > 40_000, `most inputs are refused (${refused})`)
  global.gc?.()
  const grown = process.memoryUsage().heapUsed - heapBefore
  t.ok(grown < 64 * 1024 * 1024, `the heap grew by ${(grown / 1e6).toFixed(1)} MB, not without bound`)
})
