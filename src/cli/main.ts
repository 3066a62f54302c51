import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Command, CommanderError, Option } from 'commander'
import cliProgress from 'cli-progress'
import { loadSettings } from '../config/settings.js'
import { Daemon, VERSION } from '../daemon/daemon.js'
import { FaultCounter } from '../daemon/faults.js'
import { createLogger } from '../daemon/logger.js'
import type { TorrentView, VoucherTotals } from '../api/types.js'
import type { PeerInfo } from '../engine/torrent.js'
import { BidtorrentError, UsageError, errorMessage } from '../util/errors.js'
import { formatBytes, formatRate, parseRate, parseSize } from '../util/units.js'
import { isPeerAddress } from '../util/address.js'
import type { ApiClient } from '../api/client.js'
import { client, common, dataDirOf, print, type CommonOptions } from './options.js'
import { addWalletCommands } from './wallet-commands.js'
import { addDemoCommand } from './demo-command.js'
import { addChainCommands } from './chain-commands.js'
import { paidLine, peerLine, statusLines, torrentDetails, torrentLine, voucherTotals } from './format.js'
import { formatQuote, isUsd, parseMoney, parseQuote, quoteFromText, readableBtt, readablePrice, type Money, type Quote } from '../money/price.js'


const collect = (value: string, previous: string[] = []): string[] => [...previous, value]



function validateRate (text: string | undefined, flag: string): string | undefined {
  if (text === undefined) return undefined
  try {
    parseRate(text)
  } catch {
    throw new UsageError(`${flag}: invalid rate "${text}" (examples: 20MiB/s, 500KB/s, 0 for unlimited)`)
  }
  return text
}

function validatePeers (peers: string[] | undefined): string[] {
  for (const peer of peers ?? []) {
    if (!isPeerAddress(peer)) throw new UsageError(`--peer: "${peer}" is not HOST:PORT`)
  }
  return peers ?? []
}


/** Resolves an `add` argument: a magnet link, a bare info hash, or a .torrent file path. */
async function readSource (source: string): Promise<{ magnet: string } | { torrent: string }> {
  if (/^magnet:/i.test(source)) return { magnet: source }
  if (/^[0-9a-fA-F]{40}$/.test(source)) return { magnet: `magnet:?xt=urn:btih:${source.toLowerCase()}` }
  let data: Buffer
  try {
    data = await readFile(source)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new UsageError(code === 'ENOENT'
      ? `"${source}" is neither a magnet link nor an existing .torrent file`
      : `cannot read ${source}: ${errorMessage(err)}`)
  }
  return { torrent: data.toString('base64') }
}

/** `1m05s`, `3h12m`: how long the rest takes at the current rate. */
function eta (bytesLeft: number, rate: number): string {
  if (bytesLeft <= 0) return 'done'
  if (rate < 1) return '?'
  const seconds = Math.ceil(bytesLeft / rate)
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`
  return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`
}

/** What the market part of the progress line says: paid so far, the rate paid now, BTT a second. */
function spendOf (torrent: TorrentView, bttPerSecond: bigint): string {
  const market = torrent.market
  if (!market || (market.bid === '0' && market.paid === '0')) return ''
  const rates = market.sellers.filter((seller) => seller.state === 'winning').map((seller) => BigInt(seller.rate))
  const top = rates.reduce((best, rate) => (rate > best ? rate : best), 0n)
  return ` | paid ${readableBtt(BigInt(market.paid))} | ${top > 0n ? `at ${readablePrice(top)}` : 'no paid slot'} | ${readableBtt(bttPerSecond)}/s`
}

/**
 * Polls the daemon until every piece is verified, drawing a progress bar on a terminal with the
 * spend, the rate paid and the time left; the market's warnings (a bid that stopped working) are
 * printed as they come, on a terminal or not.
 */
async function waitForCompletion (api: ApiClient, infoHash: string, options: CommonOptions): Promise<TorrentView> {
  const interactive = !options.json && process.stderr.isTTY
  const bar = interactive
    ? new cliProgress.SingleBar({
      format: '{bar} {percentage}% | {value}/{total} pieces | ↓ {rate} | ETA {eta} | {peers} peers | {state}{spend}',
      stream: process.stderr,
      hideCursor: true
    }, cliProgress.Presets.shades_classic)
    : undefined
  let started = false
  const seen = new Set<string>()
  let lastPaid: { amount: bigint, at: number } | undefined
  let spendRate = 0n
  try {
    for (;;) {
      const torrent = await api.request<TorrentView>('GET', `/v1/torrents/${infoHash}`)
      if (torrent.state === 'error') throw new BidtorrentError('ETORRENT', `torrent failed: ${torrent.error ?? 'unknown error'}`)
      for (const notice of torrent.market?.notices ?? []) {
        const key = `${notice.at} ${notice.message}`
        if (seen.has(key)) continue
        seen.add(key)
        const line = options.json ? JSON.stringify({ warning: notice.message, at: notice.at }) : `warning: ${notice.message}`
        process.stderr.write(`${started ? '\r\x1b[K' : ''}${line}\n`)
      }
      const now = Date.now()
      const paid = BigInt(torrent.market?.paid ?? '0')
      if (lastPaid && now > lastPaid.at) spendRate = (paid - lastPaid.amount) * 1000n / BigInt(now - lastPaid.at)
      lastPaid = { amount: paid, at: now }
      const total = torrent.pieceCount ?? 0
      if (bar) {
        const left = torrent.length === null ? 0 : Math.max(0, torrent.length * (1 - torrent.progress))
        const payload = { rate: formatRate(torrent.downloadRate), peers: torrent.peers, state: torrent.state, eta: eta(left, torrent.downloadRate), spend: spendOf(torrent, spendRate) }
        if (!started && total > 0) {
          bar.start(total, torrent.verifiedPieces, payload)
          started = true
        } else if (started) {
          bar.update(torrent.verifiedPieces, payload)
        }
      }
      if (total > 0 && torrent.verifiedPieces === total) return torrent
      await new Promise((done) => setTimeout(done, 500))
    }
  } finally {
    if (started) bar?.stop()
  }
}

/** What a torrent's market says after `add`, `seed`, `bid` or `floor`: the bid, budget, paid and floor. */
function marketSummary (torrent: TorrentView): string {
  const market = torrent.market
  if (!market) return ''
  const bid = quoteFromText(market.bid)
  const parts = [
    `bid ${(isUsd(bid) ? bid.usdPerMiB : bid) === 0n ? 'none' : formatQuote(bid)}`,
    `budget ${readableBtt(BigInt(market.budget))}`,
    `paid ${paidLine(market)}`,
    `floor ${market.floor === '0' ? 'none (sells nothing)' : readablePrice(BigInt(market.floor))}`
  ]
  return parts.join(', ')
}

export function buildProgram (): Command {
  const program = new Command()
  program
    .name('bidtorrent')
    .description('A BitTorrent daemon and CLI with a bandwidth market.')
    .version(VERSION)
    // Set before the subcommands are made: commander copies these settings into each of them.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`bidtorrent: ${text.split('\n')[0]!}\n`) })

  program.command('daemon')
    .description('run the daemon in the foreground until SIGINT or SIGTERM')
    .option('--data-dir <dir>', 'state, downloads and the API token live here (default: $BIDTORRENT_DATA_DIR or ~/.bidtorrent)')
    .option('--config <file>', 'a JSON config file (default: <data-dir>/config.json if present)')
    .option('--port <n>', 'TCP port for peers (0 = any free port)')
    .option('--api-port <n>', 'control API port on 127.0.0.1 (0 = any free port)')
    .option('--no-dht', 'disable the DHT')
    .option('--no-lsd', 'disable local service discovery')
    .option('--no-pex', 'disable peer exchange')
    .option('--upload-limit <rate>', 'global upload limit, e.g. 20MiB/s (0 = unlimited)')
    .option('--download-limit <rate>', 'global download limit, e.g. 20MiB/s (0 = unlimited)')
    .option('--download-dir <dir>', 'where downloads go when `add` names no --out')
    .addOption(new Option('--log-level <level>', 'log level').choices(['error', 'warn', 'info', 'debug']))
    .addOption(new Option('--log-format <format>', 'log format').choices(['json', 'pretty']))
    .action(async (options: Record<string, string | boolean | undefined>, command: Command) => {
      const dataDir = dataDirOf(options as CommonOptions)
      const overrides: Record<string, unknown> = {}
      const integer = (flag: string, value: string | boolean | undefined): number => {
        const number = Number(value)
        if (!Number.isInteger(number) || number < 0 || number > 65535) throw new UsageError(`${flag}: "${String(value)}" is not a port number`)
        return number
      }
      if (options.port !== undefined) overrides.port = integer('--port', options.port)
      if (options.apiPort !== undefined) overrides.apiPort = integer('--api-port', options.apiPort)
      if (command.getOptionValueSource('dht') === 'cli') overrides.dht = false
      if (command.getOptionValueSource('lsd') === 'cli') overrides.lsd = false
      if (command.getOptionValueSource('pex') === 'cli') overrides.pex = false
      if (options.uploadLimit !== undefined) overrides.uploadLimit = validateRate(String(options.uploadLimit), '--upload-limit')
      if (options.downloadLimit !== undefined) overrides.downloadLimit = validateRate(String(options.downloadLimit), '--download-limit')
      if (options.downloadDir !== undefined) overrides.downloadDir = resolve(String(options.downloadDir))
      if (options.logLevel !== undefined) overrides.logLevel = options.logLevel
      if (options.logFormat !== undefined) overrides.logFormat = options.logFormat
      const settings = loadSettings({ dataDir, ...(options.config ? { configFile: resolve(String(options.config)) } : {}), overrides })
      await runDaemon(dataDir, settings)
    })

  common(program.command('seed <path>'))
    .description('make a torrent of a file or folder and seed it; prints the info hash and magnet link')
    .option('--tracker <url>', 'announce URL (repeatable)', collect)
    .option('--peer <host:port>', 'connect to this peer (repeatable)', collect)
    .option('--upload-limit <rate>', 'upload limit for this torrent')
    .option('--piece-length <size>', 'piece length, a power of two (default: chosen from the size)')
    .option('--private', 'mark the torrent private (no DHT, no PEX)')
    .option('--save-torrent <file>', 'also write the .torrent file here')
    .option('--floor <price>', 'the lowest bid to sell upload slots for, e.g. 0.001BTT/MiB (default: the daemon\'s marketFloor)')
    .action(async (path: string, options: CommonOptions & { tracker?: string[]; peer?: string[]; uploadLimit?: string; pieceLength?: string; private?: boolean; saveTorrent?: string; floor?: string }) => {
      const api = await client(options)
      const torrent = await api.request<TorrentView>('POST', '/v1/seed', {
        path: resolve(path),
        trackers: options.tracker ?? [],
        peers: validatePeers(options.peer),
        private: options.private ?? false,
        ...(options.uploadLimit !== undefined ? { uploadLimit: validateRate(options.uploadLimit, '--upload-limit') } : {}),
        ...(options.pieceLength !== undefined ? { pieceLength: parseSize(options.pieceLength) } : {}),
        ...marketOptions(options)
      })
      if (options.saveTorrent) {
        const { torrent: file } = await api.request<{ torrent: string }>('GET', `/v1/torrents/${torrent.infoHash}/torrent`)
        await writeFile(resolve(options.saveTorrent), Buffer.from(file, 'base64'))
      }
      print(options, torrent, () => `seeding ${torrent.name} (${formatBytes(torrent.length ?? 0)})\ninfo hash: ${torrent.infoHash}\nmagnet:    ${torrent.magnet}${options.floor !== undefined ? `\nmarket:    ${marketSummary(torrent)}` : ''}`)
    })

  common(program.command('add <magnet-or-torrent>'))
    .description('download a magnet link or .torrent file (data already in --out is checked and seeded)')
    .option('--out <dir>', 'download directory (default: the daemon\'s)')
    .option('--peer <host:port>', 'connect to this peer directly (repeatable)', collect)
    .option('--wait', 'show progress and exit 0 only when every piece is verified')
    .option('--paused', 'add without starting')
    .option('--upload-limit <rate>', 'upload limit for this torrent')
    .option('--download-limit <rate>', 'download limit for this torrent')
    .option('--bid <price>', 'pay seeders this much per verified MiB, e.g. 50BTT/MiB or 0.03USD/GiB, or "auto" (setting autoBid); needs --budget')
    .option('--budget <amount>', 'the most this download may spend, e.g. 100000BTT or 0.10USD')
    .option('--target <rate>', 'with --bid auto: the download rate wanted, e.g. 10MiB/s (auto-bid pays only while below it)')
    .option('--floor <price>', 'when seeding it, the lowest bid to sell upload slots for')
    .action(async (source: string, options: CommonOptions & MarketFlags & { out?: string; peer?: string[]; wait?: boolean; paused?: boolean; uploadLimit?: string; downloadLimit?: string }) => {
      const body = {
        ...(await readSource(source)),
        peers: validatePeers(options.peer),
        paused: options.paused ?? false,
        ...(options.out !== undefined ? { directory: resolve(options.out) } : {}),
        ...(options.uploadLimit !== undefined ? { uploadLimit: validateRate(options.uploadLimit, '--upload-limit') } : {}),
        ...(options.downloadLimit !== undefined ? { downloadLimit: validateRate(options.downloadLimit, '--download-limit') } : {}),
        ...marketOptions(options)
      }
      const api = await client(options)
      let torrent = await api.request<TorrentView>('POST', '/v1/torrents', body)
      if (options.wait) {
        if (!options.json) process.stderr.write(`downloading ${torrent.name} (${torrent.infoHash})\n`)
        torrent = await waitForCompletion(api, torrent.infoHash, options)
        print(options, torrent, () => `complete: ${torrent.name}, ${torrent.verifiedPieces}/${torrent.pieceCount ?? 0} pieces verified, in ${torrent.directory}`)
        return
      }
      print(options, torrent, () => `added ${torrent.name}\ninfo hash: ${torrent.infoHash}${options.bid !== undefined || options.floor !== undefined ? `\nmarket:    ${marketSummary(torrent)}` : ''}`)
    })

  common(program.command('wait <id>'))
    .description('show progress until every piece of a torrent is verified')
    .action(async (id: string, options: CommonOptions) => {
      const api = await client(options)
      const { infoHash } = await api.request<TorrentView>('GET', `/v1/torrents/${encodeURIComponent(id)}`)
      const torrent = await waitForCompletion(api, infoHash, options)
      print(options, torrent, () => `complete: ${torrent.name}`)
    })

  common(program.command('ls'))
    .description('list torrents')
    .action(async (options: CommonOptions) => {
      const torrents = await (await client(options)).request<TorrentView[]>('GET', '/v1/torrents')
      print(options, torrents, () => (torrents.length ? torrents.map(torrentLine).join('\n') : 'no torrents'))
    })

  common(program.command('info <id>'))
    .description('show one torrent (id: info hash, a unique prefix of it, or the name)')
    .action(async (id: string, options: CommonOptions) => {
      const torrent = await (await client(options)).request<TorrentView & { peerList: PeerInfo[] }>('GET', `/v1/torrents/${encodeURIComponent(id)}`)
      print(options, torrent, () => torrentDetails(torrent))
    })

  common(program.command('peers <id>'))
    .description('show a torrent\'s connected peers')
    .action(async (id: string, options: CommonOptions) => {
      const peers = await (await client(options)).request<PeerInfo[]>('GET', `/v1/torrents/${encodeURIComponent(id)}/peers`)
      print(options, peers, () => (peers.length ? peers.map(peerLine).join('\n') : 'no peers'))
    })

  for (const [name, description] of [['pause', 'stop transferring a torrent (keeps it and its data)'], ['resume', 'start a paused torrent again']] as const) {
    common(program.command(`${name} <id>`))
      .description(description)
      .action(async (id: string, options: CommonOptions) => {
        const torrent = await (await client(options)).request<TorrentView>('POST', `/v1/torrents/${encodeURIComponent(id)}/${name}`)
        print(options, torrent, () => `${name === 'pause' ? 'paused' : 'resumed'} ${torrent.name}`)
      })
  }

  common(program.command('rm <id>'))
    .description('remove a torrent')
    .option('--delete-data', 'also delete its downloaded files')
    .action(async (id: string, options: CommonOptions & { deleteData?: boolean }) => {
      const result = await (await client(options)).request<{ infoHash: string }>('DELETE', `/v1/torrents/${encodeURIComponent(id)}?deleteData=${options.deleteData ? 'true' : 'false'}`)
      print(options, result, () => `removed ${result.infoHash}${options.deleteData ? ' and its data' : ''}`)
    })

  common(program.command('limit <id>'))
    .description('set a torrent\'s rate limits')
    .option('--upload <rate>', 'upload limit, e.g. 5MiB/s (0 = unlimited)')
    .option('--download <rate>', 'download limit (0 = unlimited)')
    .action(async (id: string, options: CommonOptions & { upload?: string; download?: string }) => {
      if (options.upload === undefined && options.download === undefined) throw new UsageError('give --upload and/or --download')
      const torrent = await (await client(options)).request<TorrentView>('PATCH', `/v1/torrents/${encodeURIComponent(id)}/limits`, {
        ...(options.upload !== undefined ? { uploadLimit: validateRate(options.upload, '--upload') } : {}),
        ...(options.download !== undefined ? { downloadLimit: validateRate(options.download, '--download') } : {})
      })
      print(options, torrent, () => `limits for ${torrent.name}: up ${torrent.uploadLimit ? formatRate(torrent.uploadLimit) : 'unlimited'}, down ${torrent.downloadLimit ? formatRate(torrent.downloadLimit) : 'unlimited'}`)
    })

  common(program.command('export <id> <file>'))
    .description('write a torrent\'s .torrent file')
    .action(async (id: string, file: string, options: CommonOptions) => {
      const { torrent } = await (await client(options)).request<{ torrent: string }>('GET', `/v1/torrents/${encodeURIComponent(id)}/torrent`)
      await writeFile(resolve(file), Buffer.from(torrent, 'base64'))
      print(options, { file: resolve(file) }, () => `wrote ${resolve(file)}`)
    })

  common(program.command('status'))
    .description('show the daemon\'s status')
    .action(async (options: CommonOptions) => {
      const status = await (await client(options)).request<Record<string, unknown>>('GET', '/v1/status')
      print(options, status, () => statusLines(status).join('\n'))
    })

  common(program.command('bid <id> <price>'))
    .description('change a torrent\'s bid now (0 withdraws it), within its budget; --budget replaces the budget')
    .option('--budget <amount>', 'the most this torrent may spend in all, e.g. 100000BTT or 0.10USD (needed only if it has none)')
    .option('--target <rate>', 'with auto: the download rate wanted, e.g. 10MiB/s')
    .action(async (id: string, price: string, options: CommonOptions & { budget?: string, target?: string }) => {
      const fields = marketOptions({ bid: price, ...(options.budget !== undefined ? { budget: options.budget } : {}), ...(options.target !== undefined ? { target: options.target } : {}) }, false)
      const torrent = await (await client(options)).request<TorrentView>('POST', `/v1/torrents/${encodeURIComponent(id)}/bid`, {
        price: fields.bid,
        ...(fields.budget !== undefined ? { budget: fields.budget } : {}),
        ...(fields.target !== undefined ? { target: fields.target } : {})
      })
      print(options, torrent, () => `${torrent.name}: ${marketSummary(torrent)}`)
    })

  common(program.command('floor <id> <price>'))
    .description('change the lowest bid a torrent sells upload slots for, now (0: it sells nothing; "default": the daemon\'s marketFloor)')
    .action(async (id: string, price: string, options: CommonOptions) => {
      const floor = price.trim().toLowerCase() === 'default' ? null : marketOptions({ floor: price }).floor!
      const torrent = await (await client(options)).request<TorrentView>('POST', `/v1/torrents/${encodeURIComponent(id)}/floor`, { floor })
      print(options, torrent, () => `${torrent.name}: ${marketSummary(torrent)}`)
    })

  for (const [name, path, verb] of [['earnings', '/v1/earnings', 'earned from'], ['spending', '/v1/spending', 'paid to']] as const) {
    common(program.command(name))
      .description(`what this daemon has ${verb} peers, per torrent and per peer, from the stored vouchers`)
      .action(async (options: CommonOptions) => {
        const totals = await (await client(options)).request<VoucherTotals>('GET', path)
        print(options, totals, () => voucherTotals(totals, verb))
      })
  }

  common(program.command('settle'))
    .description('redeem every voucher received now: on a chain, claim them whatever their size')
    .action(async (options: CommonOptions) => {
      type Redemption = { channel: string, amount: string, nonce: number }
      const settled = await (await client(options)).request<{ backend: string, redeemed: Array<Redemption & { added: string }>, redemptions: Redemption[], error?: string }>('POST', '/v1/settle')
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

  const wallet = addWalletCommands(program)
  addDemoCommand(program)
  addChainCommands(program, wallet)
  return program
}

interface MarketFlags {
  bid?: string
  budget?: string
  floor?: string
  target?: string
}

/**
 * --bid, --budget and --floor, checked here (exit 2 on a typo) and sent as base units. `add` asks
 * for a budget with every bid; `bid` leaves it to the daemon, which uses the torrent's own.
 */
function marketOptions (options: MarketFlags, bidNeedsBudget = true): Record<string, string | number> {
  const checked = (flag: string, text: string | undefined, parse: (text: string) => Quote | Money): Record<string, string> => {
    if (text === undefined) return {}
    try {
      const value = parse(text)
      // A USD price or amount goes as written: the daemon turns it into BTT at its BTT price.
      return { [flag]: typeof value === 'bigint' ? value.toString() : text }
    } catch (err) {
      throw new UsageError(`--${flag}: ${errorMessage(err)}`)
    }
  }
  const bid = options.bid?.trim().toLowerCase() === 'auto' ? { bid: 'auto' } : checked('bid', options.bid, parseQuote)
  const fields: Record<string, string | number> = { ...bid, ...checked('budget', options.budget, parseMoney), ...checked('floor', options.floor, parseQuote) }
  if (options.target !== undefined) {
    if (fields.bid !== 'auto') throw new UsageError('--target goes with an auto bid (--bid auto)')
    fields.target = parseRate(validateRate(options.target, '--target')!)
  }
  if (bidNeedsBudget && fields.bid !== undefined && fields.bid !== '0' && (fields.budget === undefined || fields.budget === '0')) {
    throw new UsageError('--bid needs --budget: the daemon never spends without a limit')
  }
  return fields
}

async function runDaemon (dataDir: string, settings: ReturnType<typeof loadSettings>): Promise<void> {
  const log = createLogger(settings)
  // A bug reached through hostile peer input must not take every torrent down with it; too many
  // of them, and the daemon exits for its supervisor to start it afresh.
  const faults = new FaultCounter(log, settings.maxInternalErrors, (code) => {
    process.exitCode = code
    setTimeout(() => process.exit(code), 200).unref()
  })
  faults.install()
  let daemon: Daemon
  try {
    daemon = await Daemon.start(dataDir, settings, log, faults)
  } catch (err) {
    // Whatever the failed start left open (a listener, worker threads) must not keep a process
    // without an API alive: a supervisor would take it for a healthy daemon.
    setTimeout(() => process.exit(1), 500).unref()
    throw err
  }
  await new Promise<void>((resolveStop) => {
    let signals = 0
    const onSignal = (signal: string): void => {
      signals++
      if (signals > 1) {
        log.warn('second signal: exiting at once', { signal })
        process.exit(1)
      }
      log.info('signal received', { signal })
      daemon.stop().then(resolveStop, (err: unknown) => {
        log.error('shutdown failed', { error: errorMessage(err) })
        process.exitCode = 1
        resolveStop()
      })
    }
    process.on('SIGINT', () => onSignal('SIGINT'))
    process.on('SIGTERM', () => onSignal('SIGTERM'))
  })
  // Give winston a moment to flush, then leave even if a library left a handle open.
  setTimeout(() => process.exit(), 200).unref()
}

export async function main (argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    // A command that finished but fell short (settle with a dead endpoint) set its own exit code.
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    const usage = err instanceof UsageError || (err instanceof BidtorrentError && err.code === 'EUSAGE')
    process.stderr.write(`bidtorrent: error: ${errorMessage(err)}\n`)
    return usage ? 2 : 1
  }
}
