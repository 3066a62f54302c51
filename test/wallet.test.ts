import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { addressOfPrivateKey } from '../src/money/address.js'
import { unlockWallet, walletAddresses } from '../src/wallet/keystore.js'
import { tempDir } from '../testkit/daemon.js'
import { runCli } from '../testkit/process.js'

const PASSPHRASE = 'a long enough passphrase'
const KEY = '0b2f8ad3c1a7bd1c8c8f3f2f7fd5a2c5c3f6e4b1b5a7e0d9c8b7a6f5e4d3c2b1'

t.test('wallet create: an encrypted keystore, mode 0600, that unlocks to its address', async (t) => {
  const dir = await tempDir(t)
  const created = await runCli(['wallet', 'create', '--data-dir', dir, '--json'], { BIDTORRENT_PASSPHRASE: PASSPHRASE })
  t.equal(created.code, 0, created.stderr)
  const addresses = JSON.parse(created.stdout) as { tron: string, evm: string, keystore: string }
  t.match(addresses.tron, /^T[1-9A-HJ-NP-Za-km-z]{33}$/)
  t.match(addresses.evm, /^0x[0-9a-f]{40}$/)
  t.equal((await stat(addresses.keystore)).mode & 0o777, 0o600, 'only the owner can read the keystore')
  const shown = await runCli(['wallet', 'address', '--data-dir', dir, '--json'])
  t.same(JSON.parse(shown.stdout), { tron: addresses.tron, evm: addresses.evm }, '`wallet address` needs no passphrase')
  const unlocked = await unlockWallet(dir, PASSPHRASE)
  t.equal(unlocked.tron, addresses.tron)
  t.equal(addressOfPrivateKey(unlocked.privateKey), addresses.tron, 'the stored key controls the address')
  await t.rejects(unlockWallet(dir, 'the wrong passphrase'), /wrong passphrase/)
  const again = await runCli(['wallet', 'create', '--data-dir', dir], { BIDTORRENT_PASSPHRASE: PASSPHRASE })
  t.equal(again.code, 1)
  t.match(again.stderr, /already exists/, 'an existing wallet is never overwritten')
  t.equal((await walletAddresses(dir)).tron, addresses.tron, 'and it is unchanged')
})

t.test('wallet import: a known key, from a file; bad keys and short passphrases are refused', async (t) => {
  const dir = await tempDir(t)
  const keyFile = join(dir, 'key.txt')
  await writeFile(keyFile, `0x${KEY}\n`)
  const imported = await runCli(['wallet', 'import', '--key-file', keyFile, '--data-dir', join(dir, 'a'), '--json'], { BIDTORRENT_PASSPHRASE: PASSPHRASE })
  t.equal(imported.code, 0, imported.stderr)
  t.equal((JSON.parse(imported.stdout) as { tron: string }).tron, addressOfPrivateKey(KEY))
  await writeFile(keyFile, 'not a key')
  const bad = await runCli(['wallet', 'import', '--key-file', keyFile, '--data-dir', join(dir, 'b')], { BIDTORRENT_PASSPHRASE: PASSPHRASE })
  t.equal(bad.code, 2)
  t.match(bad.stderr, /64 hexadecimal digits/)
  await writeFile(keyFile, 'f'.repeat(64))
  const outOfRange = await runCli(['wallet', 'import', '--key-file', keyFile, '--data-dir', join(dir, 'c')], { BIDTORRENT_PASSPHRASE: PASSPHRASE })
  t.match(outOfRange.stderr, /not a valid secp256k1 private key/)
  await writeFile(keyFile, KEY)
  const short = await runCli(['wallet', 'import', '--key-file', keyFile, '--data-dir', join(dir, 'd')], { BIDTORRENT_PASSPHRASE: 'short' })
  t.equal(short.code, 2)
  t.match(short.stderr, /at least 8 characters/)
  const noPassphrase = await runCli(['wallet', 'create', '--data-dir', join(dir, 'e')], { BIDTORRENT_PASSPHRASE: '' })
  t.match(noPassphrase.stderr, /BIDTORRENT_PASSPHRASE/, 'without a terminal it says where the passphrase comes from')
})

t.test('a damaged or missing keystore gives a clear error', async (t) => {
  const dir = await tempDir(t)
  const missing = await runCli(['wallet', 'address', '--data-dir', dir])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /no wallet in .*wallet create/)
  await writeFile(join(dir, 'wallet.json'), '{"version": 3, "crypto": "garbage"')
  const damaged = await runCli(['wallet', 'address', '--data-dir', dir])
  t.equal(damaged.code, 1)
  t.match(damaged.stderr, /not an encrypted keystore/)
})
