import { resolve } from 'node:path'
import { Option, type Command } from 'commander'
import { defaultDataDir, loadSettings } from '../../config/settings.js'
import { isUsd, parseDecimal, parseQuote, usdToBtt } from '../../money/price.js'
import { UsageError } from '../../util/errors.js'
import { devnetDirOf, wholeNumber } from '../options.js'
import { parseRate, parseSize } from '../../util/units.js'

interface DemoCommandOptions {
  size: string
  uploadLimit: string
  leecherUploadLimit: string
  floor: string
  pex: boolean
  marketOff?: boolean
  bids: string
  keep?: string
  timeout: string
  json?: boolean
  chain?: 'devnet'
  dataDir?: string
}

/** The demo's floor in BTT: a USD floor at the BTT price the daemons run with (their usdPerBtt). */
function floorInBtt (text: string): bigint {
  const quote = parseQuote(text)
  if (!isUsd(quote)) return quote
  const price = loadSettings({ dataDir: defaultDataDir() }).usdPerBtt
  if (price === null) throw new UsageError('--floor in USD needs a BTT price (setting usdPerBtt)')
  return usdToBtt(quote.usdPerMiB, parseDecimal(price))
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
    .description('run a swarm on 127.0.0.1 (a capped seeder behind a tracker, downloaders with home-sized uplinks, PEX on), some bidding and some not, and show the market at work')
    .option('--size <size>', 'size of the file served', '32MiB')
    .option('--upload-limit <rate>', 'the seeder\'s upload cap', '4MiB/s')
    .option('--leecher-upload-limit <rate>', 'each downloader\'s upload cap (a home uplink)', '512KiB/s')
    .option('--floor <price>', 'the seeder\'s floor, in BTT or USD (converted at the daemons\' BTT price, usdPerBtt)', '0.01USD/GiB')
    .option('--bids <list>', 'each downloader\'s bid, as multiples of the floor (0 = no bid, no wallet)', '0,0,0,1,2,4')
    .option('--no-pex', 'turn peer exchange off (downloaders then meet through the tracker only)')
    .option('--market-off', 'the same swarm with nobody selling or bidding: the baseline')
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
      const leecherUploadLimit = parseRate(options.leecherUploadLimit)
      const floor = floorInBtt(options.floor)
      if (floor === 0n) throw new UsageError('--floor: the demo needs a floor above 0')
      const bids = parseBids(options.bids)
      const timeoutSeconds = wholeNumber('--timeout', options.timeout, 10, 86_400)
      const { renderRows, renderSummary, runDemo } = await import('../../dev/demo.js')
      const chain = options.chain === 'devnet'
        ? await (await import('../../dev/devnet.js')).readDevnet(devnetDirOf(options.dataDir))
        : undefined
      if (options.dataDir && !chain) throw new UsageError('--data-dir goes with --chain devnet (use --keep DIR to keep the demo\'s files)')
      const live = process.stdout.isTTY && !options.json
      let drawn = 0
      const summary = await runDemo({
        size,
        uploadLimit,
        leecherUploadLimit,
        floor,
        bids,
        pex: options.pex,
        ...(options.marketOff ? { marketOff: true } : {}),
        timeoutSeconds,
        onStatus: (line) => { if (!options.json) process.stdout.write(`${line}\n`) },
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
