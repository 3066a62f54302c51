import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { read } from 'read'
import { UsageError, errorMessage } from '../util/errors.js'
import { PASSPHRASE_ENV } from '../wallet/paths.js'


/** The wallet passphrase: $BIDTORRENT_PASSPHRASE for unattended use, else a hidden prompt (twice when `confirm`). */
export async function askPassphrase (confirm: boolean): Promise<string> {
  const fromEnvironment = process.env[PASSPHRASE_ENV]
  if (fromEnvironment) return fromEnvironment
  if (!process.stdin.isTTY) throw new UsageError(`no passphrase: set ${PASSPHRASE_ENV} or run this in a terminal`)
  const first = await read({ prompt: 'Wallet passphrase: ', silent: true, replace: '*', output: process.stderr })
  if (confirm) {
    const second = await read({ prompt: 'Repeat the passphrase: ', silent: true, replace: '*', output: process.stderr })
    if (second !== first) throw new UsageError('the two passphrases differ')
  }
  return first
}

/** A private key to import: from --key-file, a hidden prompt on a terminal, or the first line of stdin. */
export async function askPrivateKey (keyFile: string | undefined): Promise<string> {
  if (keyFile !== undefined) {
    try {
      return (await readFile(keyFile, 'utf8')).trim()
    } catch (err) {
      throw new UsageError(`cannot read the key file ${keyFile}: ${errorMessage(err)}`)
    }
  }
  if (process.stdin.isTTY) return read({ prompt: 'Private key (hex): ', silent: true, replace: '*', output: process.stderr })
  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) {
    lines.close()
    return line.trim()
  }
  throw new UsageError('no private key on stdin (or pass --key-file FILE)')
}
