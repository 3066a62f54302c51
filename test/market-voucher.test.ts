import t from 'tap'
import { Trx } from 'tronweb'
import { addressOfPrivateKey, tronAddressOf } from '../src/money/address.js'
import {
  NO_CONTRACT, VOUCHER_TYPES, channelIdFor, recoverSigner, referenceDigest, signVoucher, signVoucherWithTronweb, signedBy, voucherDigest,
  type VoucherDomain
} from '../src/money/voucher.js'

// Fixed keys: the tests are deterministic (tronweb's signatures follow RFC 6979).
const PAYER_KEY = '0b2f8ad3c1a7bd1c8c8f3f2f7fd5a2c5c3f6e4b1b5a7e0d9c8b7a6f5e4d3c2b1'
const OTHER_KEY = '1c3e5a7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c'
const PAYEE_KEY = '2d4f6b8c0e1a3c5e7b9d1f3a5c7e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e'
const INFO_HASH = '0123456789abcdef0123456789abcdef01234567'
const domain: VoucherDomain = { chainId: 199, verifyingContract: NO_CONTRACT }

const payer = addressOfPrivateKey(PAYER_KEY)
const payee = addressOfPrivateKey(PAYEE_KEY)
const channel = channelIdFor(payer, payee, INFO_HASH)

t.test('the fast digest is the digest tronweb signs', async (t) => {
  for (const [nonce, amount] of [[1, 0n], [2, 1n], [77, 10n ** 18n], [Number.MAX_SAFE_INTEGER, (1n << 256n) - 1n]] as const) {
    const voucher = { channel, nonce, amount }
    t.same(Buffer.from(voucherDigest(domain, voucher)).toString('hex'), Buffer.from(referenceDigest(domain, voucher)).toString('hex'), `nonce ${nonce}`)
  }
  const tronDomain = { chainId: 728126428, verifyingContract: 'TJRabPrwbZy45sbavfcjinPJC18kjpRTv8' }
  const voucher = { channel, nonce: 3, amount: 5n }
  t.same(Buffer.from(voucherDigest(tronDomain, voucher)).toString('hex'), Buffer.from(referenceDigest(tronDomain, voucher)).toString('hex'), 'a TRON contract address in the domain')
})

t.test('our signatures are byte for byte the ones tronweb makes', async (t) => {
  for (const [nonce, amount] of [[1, 0n], [2, 12345n], [99, 10n ** 30n]] as const) {
    const ours = signVoucher(PAYER_KEY, domain, { channel, nonce, amount })
    const theirs = signVoucherWithTronweb(PAYER_KEY, domain, { channel, nonce, amount })
    t.equal(Buffer.from(ours.signature).toString('hex'), Buffer.from(theirs.signature).toString('hex'), `nonce ${nonce}`)
  }
})

t.test('a voucher signed by tronweb verifies, and tronweb agrees', async (t) => {
  const voucher = signVoucherWithTronweb(PAYER_KEY, domain, { channel, nonce: 1, amount: 1234n })
  t.equal(voucher.signature.length, 65)
  t.ok(signedBy(domain, voucher, payer), 'recovered to the payer')
  t.equal(tronAddressOf(recoverSigner(domain, voucher)!), payer)
  const value = { channelId: `0x${Buffer.from(channel).toString('hex')}`, nonce: 1, amount: '1234' }
  const tronDomain = { name: 'bidtorrent', version: '1', chainId: 199, verifyingContract: NO_CONTRACT }
  t.ok(Trx.verifyTypedData(tronDomain, VOUCHER_TYPES, value, `0x${Buffer.from(voucher.signature).toString('hex')}`, payer), 'tronweb verifies the same signature')
})

t.test('forged, altered, cross-channel and cross-chain vouchers do not verify', async (t) => {
  const voucher = signVoucher(PAYER_KEY, domain, { channel, nonce: 5, amount: 1000n })
  const forged = signVoucher(OTHER_KEY, domain, { channel, nonce: 5, amount: 1000n })
  t.notOk(signedBy(domain, forged, payer), 'signed by another key')
  t.notOk(signedBy(domain, { ...voucher, amount: 1001n }, payer), 'amount raised after signing')
  t.notOk(signedBy(domain, { ...voucher, nonce: 6 }, payer), 'nonce changed after signing')
  const otherChannel = channelIdFor(payer, addressOfPrivateKey(OTHER_KEY), INFO_HASH)
  t.notOk(signedBy(domain, { ...voucher, channel: otherChannel }, payer), 'moved to another channel')
  t.notOk(signedBy({ ...domain, chainId: 728126428 }, voucher, payer), 'replayed on another chain')
  const flipped = Buffer.from(voucher.signature)
  flipped[10] = flipped[10]! ^ 0xff
  t.notOk(signedBy(domain, { ...voucher, signature: flipped }, payer), 'a damaged signature')
  t.equal(recoverSigner(domain, { ...voucher, signature: new Uint8Array(65) }), undefined, 'all zeros')
  // The same signature with s mirrored (n - s) recovers the same key: refused as non-canonical.
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
  const s = BigInt(`0x${Buffer.from(voucher.signature.subarray(32, 64)).toString('hex')}`)
  const mirrored = Buffer.from(voucher.signature)
  Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex').copy(mirrored, 32)
  mirrored[64] = mirrored[64] === 27 ? 28 : 27
  t.equal(recoverSigner(domain, { ...voucher, signature: mirrored }), undefined, 'a high-s signature')
})

t.test('channel ids: one per payer, payee and torrent', async (t) => {
  t.equal(channel.length, 32)
  t.same(channelIdFor(payer, payee, INFO_HASH), channel, 'deterministic')
  t.notSame(channelIdFor(payee, payer, INFO_HASH), channel, 'direction matters')
  t.notSame(channelIdFor(payer, payee, 'f'.repeat(40)), channel, 'the torrent matters')
})
