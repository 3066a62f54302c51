import { join } from 'node:path'
import t from 'tap'
import { StateStore } from '../src/daemon/store.js'
import type { VoucherRecord } from '../src/settlement/records.js'
import { judgeVoucher, type ChannelTerms } from '../src/market/acceptance.js'
import { addressOfPrivateKey } from '../src/money/address.js'
import { NO_CONTRACT, channelIdFor, signVoucher, type SignedVoucher } from '../src/money/voucher.js'
import { EmbeddedSettlement } from '../src/settlement/embedded.js'
import { SettlementRounds } from '../src/settlement/settlement.js'
import { tempDir } from '../testkit/daemon.js'

const PAYER_KEY = '0b2f8ad3c1a7bd1c8c8f3f2f7fd5a2c5c3f6e4b1b5a7e0d9c8b7a6f5e4d3c2b1'
const THIEF_KEY = '1c3e5a7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c'
const PAYEE_KEY = '2d4f6b8c0e1a3c5e7b9d1f3a5c7e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e'
const INFO_HASH = '0123456789abcdef0123456789abcdef01234567'

const payer = addressOfPrivateKey(PAYER_KEY)
const payee = addressOfPrivateKey(PAYEE_KEY)
const domain = { chainId: 0, verifyingContract: NO_CONTRACT }
const terms: ChannelTerms = { payer, payee, infoHash: INFO_HASH, backend: 'embedded', domain, funds: 1_000_000n }
const channel = channelIdFor(payer, payee, INFO_HASH)

function record (voucher: SignedVoucher): VoucherRecord {
  return {
    channel: Buffer.from(voucher.channel).toString('hex'),
    infoHash: INFO_HASH,
    backend: 'embedded',
    payer,
    payee,
    chainId: domain.chainId,
    nonce: voucher.nonce,
    amount: voucher.amount.toString(),
    signature: Buffer.from(voucher.signature).toString('hex'),
    at: new Date().toISOString()
  }
}

t.test('the seller accepts only well-signed, fresh, increasing vouchers within the channel\'s funds', async (t) => {
  const first = signVoucher(PAYER_KEY, domain, { channel, nonce: 1, amount: 100n })
  t.same(judgeVoucher(first, terms, undefined), { ok: true })
  const best = { nonce: 1, amount: 100n }
  const cases: Array<[string, SignedVoucher, string]> = [
    ['forged (another key)', signVoucher(THIEF_KEY, domain, { channel, nonce: 2, amount: 200n }), 'bad-signature'],
    ['tampered amount', { ...signVoucher(PAYER_KEY, domain, { channel, nonce: 2, amount: 200n }), amount: 900n }, 'bad-signature'],
    ['replayed', first, 'stale-nonce'],
    ['re-ordered (an older nonce)', signVoucher(PAYER_KEY, domain, { channel, nonce: 1, amount: 150n }), 'stale-nonce'],
    ['a smaller cumulative amount', signVoucher(PAYER_KEY, domain, { channel, nonce: 2, amount: 99n }), 'amount-decreased'],
    ['over the channel\'s funds', signVoucher(PAYER_KEY, domain, { channel, nonce: 2, amount: 1_000_001n }), 'over-funds'],
    ['another channel', signVoucher(PAYER_KEY, domain, { channel: channelIdFor(payer, payer, INFO_HASH), nonce: 2, amount: 200n }), 'unknown-channel'],
    ['another chain', signVoucher(PAYER_KEY, { ...domain, chainId: 199 }, { channel, nonce: 2, amount: 200n }), 'bad-signature']
  ]
  for (const [label, voucher, code] of cases) {
    const verdict = judgeVoucher(voucher, terms, best)
    t.equal(verdict.ok ? 'ok' : verdict.code, code, label)
  }
  t.same(judgeVoucher(signVoucher(PAYER_KEY, domain, { channel, nonce: 7, amount: 100n }), terms, best), { ok: true }, 'a higher nonce at the same amount is harmless')
})

t.test('vouchers are stored durably; embedded redemption is idempotent and survives a restart', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'state')
  let store = new StateStore(path)
  await store.open()
  const voucher = record(signVoucher(PAYER_KEY, domain, { channel, nonce: 3, amount: 300n }))
  await store.receivedVouchers.put(voucher.channel, voucher)
  const settlement = new EmbeddedSettlement(store, 1_000_000n, 0)
  t.match(settlement.description, /unbacked IOUs/, 'says plainly that nothing backs it')
  t.equal(await settlement.fundsOf(voucher.channel), 1_000_000n)
  const redeemed = await settlement.redeem(voucher)
  t.equal(redeemed.amount, '300')
  t.same(await settlement.redeem(voucher), redeemed, 'redeeming again changes nothing')
  const older = record(signVoucher(PAYER_KEY, domain, { channel, nonce: 2, amount: 200n }))
  t.same(await settlement.redeem(older), redeemed, 'an older voucher changes nothing')
  await store.close()

  store = new StateStore(path)
  await store.open()
  t.teardown(() => store.close())
  t.same(await store.receivedVouchers.get(voucher.channel), voucher, 'the best voucher is on disk after a restart')
  t.same((await store.redemptions.all()).map((r) => r.amount), ['300'], 'exactly one redemption, of the best voucher')
  const next = record(signVoucher(PAYER_KEY, domain, { channel, nonce: 4, amount: 450n }))
  await store.receivedVouchers.put(next.channel, next)
  const errors: unknown[] = []
  const rounds = new SettlementRounds(new EmbeddedSettlement(store, 1_000_000n, 0), () => store.receivedVouchers.all(), 60_000, (err) => errors.push(err))
  rounds.markDirty()
  await rounds.flush()
  await rounds.flush()
  t.same((await store.redemptions.all()).map((r) => [r.amount, r.nonce]), [['450', 4]], 'a settlement round redeems the newer voucher, once')
  t.same(errors, [])
})
