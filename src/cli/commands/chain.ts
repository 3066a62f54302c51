import { once } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { formatBtt, parseAmount } from '../../money/price.js'
import { formatUnits } from 'ethers'
import type { ChannelView } from '../../api/types.js'
import { checkedText, client, common, devnetDirOf, print, wholeNumber, type CommonOptions } from '../options.js'

interface DevnetCommandOptions {
  dataDir?: string
  port: string
  chainId: string
  challengePeriod: string
  json?: boolean
}

function channelLine (channel: ChannelView): string {
  const ends = channel.state === 'refund requested' ? `refund from ${new Date(channel.refundAt * 1000).toISOString()}` : `expires ${new Date(channel.expiry * 1000).toISOString()}`
  return `${channel.channel.slice(0, 16)}…  ${channel.role === 'payer' ? 'pays' : 'paid by'} ${channel.counterpart}  torrent ${channel.infoHash.slice(0, 8)}…  ` +
    `deposit ${formatBtt(BigInt(channel.deposited))}, paid ${formatBtt(BigInt(channel.paid))}, claimed ${formatBtt(BigInt(channel.claimed))}, refunded ${formatBtt(BigInt(channel.refunded))}  ${channel.state}, ${ends}`
}

/**
 * Chain commands. `devnet` runs a local chain; the others go through the daemon, which holds the
 * unlocked key and the chain settings: `wallet balance`, `channels`, `channel open|topup|close`,
 * `withdraw`.
 */
export function addChainCommands (program: Command, wallet: Command): void {
  common(wallet.command('balance'))
    .description('the wallet\'s balance on the daemon\'s chain (needs a running daemon on a chain backend)')
    .action(async (options: CommonOptions) => {
      const balance = await (await client(options)).wallet()
      print(options, balance, () => [
        `${formatUnits(BigInt(balance.native), balance.nativeCurrency.decimals)} ${balance.nativeCurrency.symbol} on chain ${balance.chainId}`,
        ...(balance.token ? [`${formatBtt(BigInt(balance.token.balance))} in the deposit token ${balance.token.address}`] : []),
        `TRON address: ${balance.tron}`,
        `EVM address:  ${balance.evm}`
      ].join('\n'))
    })

  common(program.command('channels'))
    .description('this wallet\'s payment channels on chain: deposit, paid (stored vouchers), claimed, refunded, expiry')
    .action(async (options: CommonOptions) => {
      const channels = await (await client(options)).channels()
      print(options, channels, () => channels.length === 0 ? 'no channels' : channels.map(channelLine).join('\n'))
    })

  const channel = program.command('channel').description('open, top up or close a payment channel on chain')
  common(channel.command('open <payee> <infoHash>'))
    .description('open a channel to a seller\'s wallet for one torrent, with a deposit')
    .requiredOption('--deposit <amount>', 'the deposit, e.g. 5BTT')
    .action(async (payee: string, infoHash: string, options: CommonOptions & { deposit: string }) => {
      const opened = await (await client(options)).openChannel({ payee, infoHash: infoHash.toLowerCase(), deposit: checkedText(options.deposit, parseAmount) })
      print(options, opened, () => `opened ${opened.channel}\n${channelLine(opened)}`)
    })
  common(channel.command('topup <channel>'))
    .description('add to a channel\'s deposit (and push its expiry later)')
    .requiredOption('--amount <amount>', 'how much to add, e.g. 1BTT')
    .action(async (id: string, options: CommonOptions & { amount: string }) => {
      const topped = await (await client(options)).topUpChannel(id, { amount: checkedText(options.amount, parseAmount) })
      print(options, topped, () => channelLine(topped))
    })
  common(channel.command('close <channel>'))
    .description('as the payee: claim and close now; as the payer: ask for the refund after expiry, take it after the challenge window')
    .action(async (id: string, options: CommonOptions) => {
      const closed = await (await client(options)).closeChannel(id)
      print(options, closed, () => `${closed.action} (transaction ${closed.transaction})\n${channelLine(closed.channel)}`)
    })

  common(program.command('withdraw <to> <amount>'))
    .description('send coins from the daemon\'s wallet to another address (TRON T… or EVM 0x…): what channels are paid in (the deposit token, if one is set)')
    .option('--native', 'send the chain\'s own coin (TRX on TRON, BTT on BTTC) even where channels use a token')
    .action(async (to: string, amount: string, options: CommonOptions & { native?: boolean }) => {
      const sent = await (await client(options)).withdraw({ to, amount: checkedText(amount, parseAmount), ...(options.native ? { native: true } : {}) })
      print(options, sent, () => `sent ${amount} (${sent.currency}) to ${to} (transaction ${sent.transaction})`)
    })

  program.command('devnet')
    .description('run a local EVM chain on 127.0.0.1 with the channel contract and a test token, until stopped (its state is kept in the data dir)')
    .option('--data-dir <dir>', 'where the chain\'s files, devnet.json and daemon-config.json go (default: <data dir>/devnet)')
    .option('--port <n>', 'the JSON-RPC port (0 = any free port)', '8545')
    .option('--chain-id <n>', 'the chain id', '31337')
    .option('--challenge-period <seconds>', 'how long a payee may still claim after a refund request', '600')
    .option('--json', 'print the ready line as JSON')
    .action(async (options: DevnetCommandOptions) => {
      const directory = devnetDirOf(options.dataDir)
      const port = wholeNumber('--port', options.port, 0, 65535)
      const chainId = wholeNumber('--chain-id', options.chainId, 1, 2 ** 32)
      const challengePeriodSeconds = wholeNumber('--challenge-period', options.challengePeriod, 0, 30 * 86_400)
      await mkdir(directory, { recursive: true, mode: 0o700 })
      const { startDevnet, DEVNET_DAEMON_CONFIG } = await import('../../dev/devnet.js')
      const { info, chain, resumed } = await startDevnet({ directory, chainId, challengePeriodSeconds, ...(port ? { port } : {}) })
      const config = join(directory, DEVNET_DAEMON_CONFIG)
      process.stdout.write(options.json
        ? `${JSON.stringify({ ready: true, resumed, directory, config, ...info, funder: info.funder.address, accounts: info.accounts.map((account) => account.address) })}\n`
        : `ready: chain ${info.chainId} at ${info.rpcUrl}, channel contract ${info.channelContract}, test token ${info.token}${resumed ? ' (resumed from the saved state)' : ''}\n` +
          `  daemons settle on it with: bidtorrent daemon --config ${config}\n` +
          `  the demo: bidtorrent demo --chain devnet --data-dir ${directory}\n`)
      const stop = async (): Promise<void> => { await chain.stop() }
      process.once('SIGINT', () => { void stop() })
      process.once('SIGTERM', () => { void stop() })
      await once(chain.process, 'exit')
    })
}
