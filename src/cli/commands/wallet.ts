import { mkdir } from 'node:fs/promises'
import type { Command } from 'commander'
import type { WalletAddresses } from '../../wallet/keystore.js'
import { PASSPHRASE_ENV, walletPath } from '../../wallet/paths.js'
import { ApiClient } from '../../api/client.js'
import type { DaemonStatus } from '../../api/types.js'
import { common, dataDirOf, print, type CommonOptions } from '../options.js'
import { askPassphrase, askPrivateKey } from '../secrets.js'

function describe (addresses: WalletAddresses, dataDir: string): string {
  return `TRON address: ${addresses.tron}\nEVM address:  ${addresses.evm}\nkeystore:     ${walletPath(dataDir)}`
}

/**
 * A daemon reads its wallet when it starts: one already running on this data directory trades
 * with the old wallet (or none) until it is restarted with the passphrase. Say so.
 */
async function warnIfDaemonRuns (dataDir: string): Promise<void> {
  let status: DaemonStatus
  try {
    status = await (await ApiClient.forDataDir(dataDir)).status()
  } catch {
    return
  }
  const now = status.wallet === null ? 'runs with the market off' : `still trades with the wallet ${status.wallet}`
  process.stderr.write(`note: the daemon running on ${dataDir} ${now}: restart it with ${PASSPHRASE_ENV} set to use this wallet\n`)
}

/** `wallet create|import|address`: they work on the data directory's keystore, with or without a running daemon (loaded on use: it is heavy). */
export function addWalletCommands (program: Command): Command {
  const wallet = program.command('wallet').description('the key that signs payments (an encrypted keystore in the data directory)')

  common(wallet.command('create'))
    .description('make a new key and store it encrypted (passphrase from a prompt or $BIDTORRENT_PASSPHRASE)')
    .action(async (options: CommonOptions) => {
      const dataDir = dataDirOf(options)
      const passphrase = await askPassphrase(true)
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const { createWallet } = await import('../../wallet/keystore.js')
      const addresses = await createWallet(dataDir, passphrase)
      print(options, { ...addresses, keystore: walletPath(dataDir) }, () => `created a wallet\n${describe(addresses, dataDir)}`)
      await warnIfDaemonRuns(dataDir)
    })

  common(wallet.command('import'))
    .description('store an existing private key encrypted (from --key-file, a prompt, or stdin)')
    .option('--key-file <file>', 'a file holding the private key in hex')
    .action(async (options: CommonOptions & { keyFile?: string }) => {
      const dataDir = dataDirOf(options)
      const privateKey = await askPrivateKey(options.keyFile)
      const passphrase = await askPassphrase(true)
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const { createWallet } = await import('../../wallet/keystore.js')
      const addresses = await createWallet(dataDir, passphrase, privateKey)
      print(options, { ...addresses, keystore: walletPath(dataDir) }, () => `imported the key\n${describe(addresses, dataDir)}`)
      await warnIfDaemonRuns(dataDir)
    })

  common(wallet.command('address'))
    .description('show the wallet\'s TRON and EVM addresses (no passphrase needed)')
    .action(async (options: CommonOptions) => {
      const dataDir = dataDirOf(options)
      const { walletAddresses } = await import('../../wallet/keystore.js')
      const addresses = await walletAddresses(dataDir)
      print(options, addresses, () => describe(addresses, dataDir))
    })
  return wallet
}
