import t from 'tap'
import { addressSchema } from '../src/config/schemas.js'
import { addressOfPrivateKey, addressRule, evmAddressOf, isWalletAddress } from '../src/money/address.js'

const TRON = addressOfPrivateKey('01'.repeat(32))
const EVM = evmAddressOf(TRON)

t.test('one check of a wallet address: TRON base58check, and where asked the EVM form of the same account', async (t) => {
  t.ok(isWalletAddress(TRON, 'tron'), 'a TRON address')
  t.ok(isWalletAddress(TRON, 'tron-or-evm'))
  t.ok(isWalletAddress(EVM, 'tron-or-evm'), 'its EVM form, where EVM addresses are taken')
  t.ok(isWalletAddress(EVM.toUpperCase().replace('0X', '0x'), 'tron-or-evm'), 'in either case')
  t.notOk(isWalletAddress(EVM, 'tron'), 'not where only TRON addresses are (the market\'s messages)')
  const broken = `${TRON.slice(0, -1)}${TRON.endsWith('1') ? '2' : '1'}`
  for (const [label, text] of [
    ['a broken checksum', broken],
    ['a character outside base58', `${TRON.slice(0, -1)}0`],
    ['one character short', TRON.slice(0, -1)],
    ['the hex form (41…)', `41${EVM.slice(2)}`],
    ['an EVM address without 0x', EVM.slice(2)],
    ['an EVM address a digit short', EVM.slice(0, -1)],
    ['nothing', '']
  ] as const) {
    t.notOk(isWalletAddress(text, 'tron-or-evm'), `not ${label}`)
  }
})

t.test('every error about an address says the same', async (t) => {
  t.equal(addressRule('tron-or-evm'), 'a TRON (T…) or EVM (0x…) address')
  t.equal(addressRule('tron'), 'a TRON address (T…)')
  const result = addressSchema.safeParse(`${TRON.slice(0, -1)}0`)
  t.notOk(result.success)
  t.equal(result.error?.issues[0]?.message, 'must be a TRON (T…) or EVM (0x…) address', 'configuration and API requests refuse it in those words')
  t.ok(addressSchema.safeParse(EVM).success)
})
