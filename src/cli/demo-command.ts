import { resolve } from 'node:path'
import { Option, type Command } from 'commander'
import { parsePrice } from '../market/price.js'
import { UsageError } from '../util/errors.js'
import { devnetDirOf, wholeNumber } from './options.js'
import { parseRate, parseSize } from '../util/units.js'

interface DemoCommandOptions {
  size: string
  uploadLimit: string
  floor: string
  bids: string
  keep?: string
  timeout: string
  json?: boolean
  chain?: 'devnet'
  dataDir?: string
}

function parseBids (text: string): number[] {
  const bids = text.split(',').map((part) => Number(part.trim()))
  if (bids.length < 2 || bids.length > 8 || bids.some((bid) => !Number.isFinite(bid) || bid < 0 || bid > 1000)) {
    throw new UsageError(`--bids "${text}": give 2 to 8 multiples of the floor, from 0 (no bid) to 1000, as in 0,1,2,4`)
  }
  if (bids.some((bid) => bid > 0 && bid < 1)) throw new UsageError(`--bids "${text}": a bid below the floor (under 1) would be refused; use 0 for a free peer`)
  return bids
}

/** `bidtorrent demo`: the market on 127.0.0.1 in one command (loaded on use: it pulls in the wallet code). */
export function addDemoCommand (program: Command): void {
  program.command('demo')
    .description('run a capped seeder and downloaders with different bids on 127.0.0.1, and show the market at work')
    .option('--size <size>', 'size of the file served', '16MiB')
    .option('--upload-limit <rate>', 'the seeder\'s upload cap', '2MiB/s')
    .option('--floor <price>', 'the seeder\'s floor', '0.001BTT/MiB')
    .option('--bids <list>', 'each downloader\'s bid, as multiples of the floor (0 = no bid)', '0,1,2,4')
    .option('--keep <dir>', 'run in this folder and keep it (data, wallets, logs)')
    .option('--timeout <seconds>', 'give up after this long', '300')
    .addOption(new Option('--json', 'print progress and the summary as JSON lines'))
    .addOption(new Option('--chain <chain>', 'settle with real deposits and claims on a running "bidtorrent devnet"').choices(['devnet']))
    .option('--data-dir <dir>', 'with --chain devnet: the devnet\'s folder (default: <data dir>/devnet)')
    .action(async (options: DemoCommandOptions) => {
      const size = parseSize(options.size)
      if (size < 1024 * 1024 || size > 4 * 1024 ** 3) throw new UsageError(`--size ${options.size}: from 1MiB to 4GiB`)
      const uploadLimit = parseRate(options.uploadLimit)
      if (uploadLimit <= 0) throw new UsageError('--upload-limit: the demo needs a capped seeder (a rate above 0)')
      const floor = parsePrice(options.floor)
      if (floor === 0n) throw new UsageError('--floor: the demo needs a floor above 0')
      const bids = parseBids(options.bids)
      const timeoutSeconds = wholeNumber('--timeout', options.timeout, 10, 86_400)
      const { renderRows, renderSummary, runDemo } = await import('../demo/demo.js')
      const chain = options.chain === 'devnet'
        ? await (await import('../settlement/evm/devnet.js')).readDevnet(devnetDirOf(options.dataDir))
        : undefined
      if (options.dataDir && !chain) throw new UsageError('--data-dir goes with --chain devnet (use --keep DIR to keep the demo\'s files)')
      const live = process.stdout.isTTY && !options.json
      let drawn = 0
      const summary = await runDemo({
        size,
        uploadLimit,
        floor,
        bids,
        timeoutSeconds,
        ...(chain ? { chain } : {}),
        ...(options.keep ? { directory: resolve(options.keep) } : {}),
        onProgress: (rows, elapsed) => {
          if (options.json) return void process.stdout.write(`${JSON.stringify({ type: 'progress', elapsed, peers: rows })}\n`)
          const text = renderRows(rows, elapsed)
          // On a terminal the table is redrawn in place; elsewhere every few seconds is enough.
          if (live) {
            if (drawn > 0) process.stdout.write(`\x1b[${drawn}F\x1b[J`)
            drawn = text.split('\n').length
            process.stdout.write(`${text}\n`)
          } else if (Math.round(elapsed) % 5 === 0) {
            process.stdout.write(`${text}\n`)
          }
        }
      })
      if (options.json) process.stdout.write(`${JSON.stringify({ type: 'summary', ...summary })}\n`)
      else process.stdout.write(`${renderSummary(summary)}\n`)
    })
}
