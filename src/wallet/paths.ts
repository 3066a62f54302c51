import { join } from 'node:path'

/**
 * Where the wallet lives, kept apart from the keystore code: that code loads tronweb and ethers
 * (~19 MB of heap, ~0.7 s), which a daemon without a wallet, and most CLI commands, never need.
 */
export const WALLET_FILE = 'wallet.json'
/** Where an unattended daemon (or CLI) finds the wallet's passphrase. */
export const PASSPHRASE_ENV = 'BIDTORRENT_PASSPHRASE'

export function walletPath (dataDir: string): string {
  return join(dataDir, WALLET_FILE)
}
