import { TronWeb } from 'tronweb'

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
  return /^T[1-9A-HJ-NP-Za-km-z]{33}$/.test(text) && TronWeb.isAddress(text)
}

/** What `isWalletAddress` takes, said the one way every error about an address says it. */
export function addressRule (forms: AddressForms): string {
  return forms === 'tron' ? 'a TRON address (T…)' : 'a TRON (T…) or EVM (0x…) address'
}

/** A TRON address (base58 `T…` or hex `41…`/`0x…`) as its 20 account bytes. */
export function accountBytes (address: string): Uint8Array {
  const hex = address.startsWith('T') ? TronWeb.address.toHex(address) : address
  const match = /^(?:0x|41)?([0-9a-fA-F]{40})$/.exec(hex)
  if (!match) throw new Error(`not an address: ${address}`)
  return Buffer.from(match[1]!, 'hex')
}

/** The same account as a lower-case EVM address (`0x` and 40 hex digits): one key, one account, on TRON and BTTC. */
export function evmAddressOf (address: string): string {
  return `0x${Buffer.from(accountBytes(address)).toString('hex')}`
}

/** The base58 TRON address of 20 account bytes. */
export function tronAddressOf (account: Uint8Array): string {
  return TronWeb.address.fromHex(`41${Buffer.from(account).toString('hex')}`)
}

/** The TRON address a secp256k1 private key (64 hex digits) controls. */
export function addressOfPrivateKey (privateKeyHex: string): string {
  const address = TronWeb.address.fromPrivateKey(privateKeyHex.replace(/^0x/, ''))
  if (!address) throw new Error('not a secp256k1 private key')
  return address
}
