import { keccak_256 as keccak256 } from '@noble/hashes/sha3.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { createBase58check } from '@scure/base'
import secp256k1 from 'secp256k1'

// Addresses are read and written here with small, well-kept codecs rather than tronweb: these run
// for every daemon (the config's addresses), and tronweb adds about 25 MB to a daemon that loads it.
const base58check = createBase58check(sha256)
/** A TRON address is base58check of 0x41 and the account's 20 bytes. */
const TRON_PREFIX = 0x41

/**
 * Which ways of writing an address are taken: `tron` only base58check (the market's messages carry
 * wallets so), `tron-or-evm` also the same 20 bytes as an EVM address (what users type and configure).
 */
export type AddressForms = 'tron' | 'tron-or-evm'

/**
 * The one check that a string is a wallet (or contract) address, wherever one is typed, configured
 * or received: TRON base58check (`T…`, 34 characters, valid checksum) or, with `tron-or-evm`, an EVM
 * address (`0x` and 40 hex digits). Errors say what it takes in the words of `addressRule`.
 */
export function isWalletAddress (text: string, forms: AddressForms): boolean {
  if (forms === 'tron-or-evm' && /^0x[0-9a-fA-F]{40}$/.test(text)) return true
  return /^T[1-9A-HJ-NP-Za-km-z]{33}$/.test(text) && tronAccount(text) !== undefined
}

/** What `isWalletAddress` takes, said the one way every error about an address says it. */
export function addressRule (forms: AddressForms): string {
  return forms === 'tron' ? 'a TRON address (T…)' : 'a TRON (T…) or EVM (0x…) address'
}

/** The 20 account bytes of a base58 TRON address; undefined when it is not one (bad checksum, prefix or length). */
function tronAccount (text: string): Uint8Array | undefined {
  let bytes: Uint8Array
  try {
    bytes = base58check.decode(text)
  } catch {
    return undefined
  }
  return bytes.length === 21 && bytes[0] === TRON_PREFIX ? bytes.subarray(1) : undefined
}

/** A TRON address (base58 `T…` or hex `41…`/`0x…`) as its 20 account bytes. */
export function accountBytes (address: string): Uint8Array {
  if (address.startsWith('T')) {
    const account = tronAccount(address)
    if (!account) throw new Error(`not an address: ${address}`)
    return Uint8Array.from(account)
  }
  const match = /^(?:0x|41)?([0-9a-fA-F]{40})$/.exec(address)
  if (!match) throw new Error(`not an address: ${address}`)
  return Buffer.from(match[1]!, 'hex')
}

/** The same account as a lower-case EVM address (`0x` and 40 hex digits): one key, one account, on TRON and BTTC. */
export function evmAddressOf (address: string): string {
  return `0x${Buffer.from(accountBytes(address)).toString('hex')}`
}

/** The base58 TRON address of 20 account bytes. */
export function tronAddressOf (account: Uint8Array): string {
  return base58check.encode(Uint8Array.from([TRON_PREFIX, ...account]))
}

/** The TRON address a secp256k1 private key (64 hex digits) controls: the last 20 bytes of keccak256 of its public key. */
export function addressOfPrivateKey (privateKeyHex: string): string {
  const key = Buffer.from(privateKeyHex.replace(/^0x/, ''), 'hex')
  if (key.length !== 32 || !secp256k1.privateKeyVerify(key)) throw new Error('not a secp256k1 private key')
  const publicKey = secp256k1.publicKeyCreate(key, false)
  return tronAddressOf(keccak256(publicKey.subarray(1)).subarray(12))
}
