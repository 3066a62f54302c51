import { randomBytes } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { walletPath } from './paths.js'
import { decryptKeystoreJson, encryptKeystoreJson, isKeystoreJson } from 'ethers'
import secp256k1 from 'secp256k1'
import { addressOfPrivateKey, evmAddressOf, tronAddressOf } from '../money/address.js'
import { BidtorrentError, UsageError, errorMessage } from '../util/errors.js'

/**
 * The wallet: one secp256k1 key, kept in `<data dir>/wallet.json` as a standard encrypted JSON
 * keystore (Web3 Secret Storage v3: scrypt and AES-128-CTR, written by ethers), file mode 0600. The
 * same key controls the same account on TRON (base58 `T…`) and on BTTC or any EVM chain (`0x…`), so
 * EVM wallets can import the file as it is.
 */

export const MIN_PASSPHRASE_LENGTH = 8

export interface WalletAddresses {
  /** TRON base58check address. */
  readonly tron: string
  /** The same account as a checksum-free EVM address. */
  readonly evm: string
}

export interface UnlockedWallet extends WalletAddresses {
  /** 64 hex digits, no 0x. */
  readonly privateKey: string
}

export class WalletError extends BidtorrentError {
  constructor (message: string, options?: { cause?: unknown }) { super('EWALLET', message, options) }
}

function addressesOf (privateKey: string): WalletAddresses {
  const tron = addressOfPrivateKey(privateKey)
  return { tron, evm: evmAddressOf(tron) }
}

export function normalizePrivateKey (text: string): string {
  const key = text.trim().replace(/^0x/i, '').toLowerCase()
  if (!/^[0-9a-f]{64}$/.test(key)) throw new UsageError('a private key is 64 hexadecimal digits (optionally with 0x)')
  if (!secp256k1.privateKeyVerify(Buffer.from(key, 'hex'))) throw new UsageError('that is not a valid secp256k1 private key')
  return key
}

export function checkPassphrase (passphrase: string): string {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new UsageError(`the passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`)
  return passphrase
}

/**
 * Writes a new wallet (a fresh key, or `privateKey` when importing). Refuses to replace an existing
 * wallet: losing a key loses its funds. The file is written beside its final name, synced, then
 * renamed, so a crash leaves either no wallet or a whole one.
 */
export async function createWallet (dataDir: string, passphrase: string, privateKey?: string, scryptN = 1 << 17): Promise<WalletAddresses> {
  checkPassphrase(passphrase)
  const key = privateKey === undefined ? newPrivateKey() : normalizePrivateKey(privateKey)
  const path = walletPath(dataDir)
  if (await readFile(path).then(() => true, () => false)) {
    throw new WalletError(`a wallet already exists at ${path}; move it away first (it holds the only copy of its key)`)
  }
  const addresses = addressesOf(key)
  const json = await encryptKeystoreJson({ address: addresses.evm, privateKey: `0x${key}` }, passphrase, { scrypt: { N: scryptN } })
  const temporary = `${path}.${process.pid}.tmp`
  const handle = await open(temporary, 'wx', 0o600)
  try {
    await handle.writeFile(json)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temporary, path)
  } catch (err) {
    await rm(temporary, { force: true })
    throw err
  }
  return addresses
}

function newPrivateKey (): string {
  for (;;) {
    const candidate = randomBytes(32)
    // Out of range has a probability of ~2^-128: draw again.
    if (secp256k1.privateKeyVerify(candidate)) return candidate.toString('hex')
  }
}

async function readKeystore (dataDir: string): Promise<string> {
  const path = walletPath(dataDir)
  let json: string
  try {
    json = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new WalletError(`no wallet in ${dataDir}; create one with "bidtorrent wallet create" or "bidtorrent wallet import"`)
    throw new WalletError(`cannot read ${path}: ${errorMessage(err)}`)
  }
  if (!isKeystoreJson(json)) throw new WalletError(`${path} is not an encrypted keystore (damaged or not a wallet file)`)
  return json
}

/** The wallet's addresses, read without the passphrase (the keystore stores the address in clear). */
export async function walletAddresses (dataDir: string): Promise<WalletAddresses> {
  const json = await readKeystore(dataDir)
  const address = (JSON.parse(json) as { address?: unknown }).address
  if (typeof address !== 'string' || !/^(0x)?[0-9a-fA-F]{40}$/.test(address)) throw new WalletError(`${walletPath(dataDir)} holds no valid address`)
  const account = Buffer.from(address.replace(/^0x/, ''), 'hex')
  return { tron: tronAddressOf(account), evm: `0x${account.toString('hex')}` }
}

export async function unlockWallet (dataDir: string, passphrase: string): Promise<UnlockedWallet> {
  const json = await readKeystore(dataDir)
  let privateKey: string
  try {
    privateKey = (await decryptKeystoreJson(json, passphrase)).privateKey
  } catch (err) {
    throw new WalletError(/password/i.test(errorMessage(err)) ? 'wrong passphrase for the wallet' : `cannot decrypt the wallet: ${errorMessage(err)}`)
  }
  const key = normalizePrivateKey(privateKey)
  return { ...addressesOf(key), privateKey: key }
}
