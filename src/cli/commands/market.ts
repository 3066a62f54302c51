import type { Command } from 'commander'
import { readableBtt } from '../../money/price.js'
import { marketSummary, voucherTotals } from '../format.js'
import { marketOptions } from '../market-flags.js'
import { client, common, print, type CommonOptions } from '../options.js'

/** `bid`, `floor`, `earnings`, `spending`, `settle`: a torrent's bid and floor, and what the vouchers say. */
export function addMarketCommands (program: Command): void {
  common(program.command('bid <id> <price>'))
    .description('change a torrent\'s bid now (0 withdraws it), within its budget; --budget replaces the budget')
    .option('--budget <amount>', 'the most this torrent may spend in all, e.g. 100000BTT or 0.10USD (needed only if it has none)')
    .option('--target <rate>', 'with auto: the download rate wanted, e.g. 10MiB/s')
    .action(async (id: string, price: string, options: CommonOptions & { budget?: string, target?: string }) => {
      const fields = marketOptions({ bid: price, ...(options.budget !== undefined ? { budget: options.budget } : {}), ...(options.target !== undefined ? { target: options.target } : {}) }, false)
      const torrent = await (await client(options)).bid(id, {
        price: fields.bid!,
        ...(fields.budget !== undefined ? { budget: fields.budget } : {}),
        ...(fields.target !== undefined ? { target: fields.target } : {})
      })
      print(options, torrent, () => `${torrent.name}: ${marketSummary(torrent)}`)
    })

  common(program.command('floor <id> <price>'))
    .description('change the lowest bid a torrent sells upload slots for, now (0: it sells nothing; "default": the daemon\'s marketFloor)')
    .action(async (id: string, price: string, options: CommonOptions) => {
      const floor = price.trim().toLowerCase() === 'default' ? null : marketOptions({ floor: price }).floor!
      const torrent = await (await client(options)).floor(id, { floor })
      print(options, torrent, () => `${torrent.name}: ${marketSummary(torrent)}`)
    })

  for (const [name, verb] of [['earnings', 'earned from'], ['spending', 'paid to']] as const) {
    common(program.command(name))
      .description(`what this daemon has ${verb} peers, per torrent and per peer, from the stored vouchers`)
      .action(async (options: CommonOptions) => {
        const totals = await (await client(options))[name]()
        print(options, totals, () => voucherTotals(totals, verb))
      })
  }

  common(program.command('settle'))
    .description('redeem every voucher received now: on a chain, claim them whatever their size')
    .action(async (options: CommonOptions) => {
      const settled = await (await client(options)).settle()
      const total = settled.redemptions.reduce((sum, record) => sum + BigInt(record.amount), 0n)
      print(options, settled, () => [
        settled.redeemed.length === 0 ? `nothing new to redeem (${settled.backend})` : `redeemed now (${settled.backend}):`,
        ...settled.redeemed.map((record) => `  channel ${record.channel.slice(0, 16)}…  +${readableBtt(BigInt(record.added))}, ${readableBtt(BigInt(record.amount))} in all (voucher ${record.nonce})`),
        `redeemed on ${settled.redemptions.length} channel${settled.redemptions.length === 1 ? '' : 's'} in all: ${readableBtt(total)}`,
        ...(settled.error ? [`not finished: ${settled.error} (the claims stay queued and resume on their own)`] : [])
      ].join('\n'))
      // Settling stopped short (a dead endpoint): say so in the exit code too.
      if (settled.error) process.exitCode = 1
    })
}
