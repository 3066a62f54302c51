import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { UsageError, errorMessage } from '../../util/errors.js'
import { formatBytes, formatRate, parseSize } from '../../util/units.js'
import { marketSummary, peerLine, seedLimitsLine, torrentDetails, torrentLine } from '../format.js'
import { fileOptions, fileSelectionOf, type FileFlags } from '../file-flags.js'
import { marketOptions, type MarketFlags } from '../market-flags.js'
import { optionFlags, optionsOf, type OptionFlags } from '../option-flags.js'
import { client, collect, common, print, validatePeers, validateRate, type CommonOptions } from '../options.js'
import { creationProgress, waitForCompletion } from '../progress.js'

type SeedFlags = CommonOptions & OptionFlags & { tracker?: string[]; webseed?: string[]; peer?: string[]; uploadLimit?: string; pieceLength?: string; format?: string; private?: boolean; superSeed?: boolean; saveTorrent?: string; floor?: string }
type AddFlags = CommonOptions & MarketFlags & FileFlags & OptionFlags & { out?: string; peer?: string[]; wait?: boolean; paused?: boolean; uploadLimit?: string; downloadLimit?: string }

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

function formatOption (format: string | undefined): 'v1' | 'v2' | 'hybrid' {
  if (format === undefined || format === 'v1' || format === 'v2' || format === 'hybrid') return format ?? 'v1'
  throw new UsageError(`--format must be v1, v2 or hybrid, not "${format}"`)
}

/** `seed` and `add`: a torrent made of a path, or fetched from a magnet link or a .torrent file. */
export function addTorrentCommands (program: Command): void {
  optionFlags(common(program.command('seed <path>')))
    .description('make a torrent of a file or folder and seed it; prints the info hash and magnet link')
    .option('--tracker <url>', 'announce URL (repeatable)', collect)
    .option('--webseed <url>', 'web seed (BEP 19 url-list): an http(s) URL serving the file, or for a folder the URL its folder is under (repeatable)', collect)
    .option('--peer <host:port>', 'connect to this peer (repeatable)', collect)
    .option('--upload-limit <rate>', 'upload limit for this torrent')
    .option('--piece-length <size>', 'piece length, a power of two (default: chosen from the size)')
    .option('--format <format>', 'v1, v2 (BEP 52) or hybrid (both: v1 and v2 peers alike)', 'v1')
    .option('--private', 'mark the torrent private (no DHT, no PEX)')
    .option('--super-seed', 'initial seeding (BEP 16): offer each peer a piece or two at a time, so that a lone seed sends each piece about once')
    .option('--save-torrent <file>', 'also write the .torrent file here')
    .option('--floor <price>', 'the lowest bid to sell upload slots for, e.g. 0.001BTT/MiB (default: the daemon\'s marketFloor)')
    .action(async (path: string, options: SeedFlags) => {
      const api = await client(options)
      const display = creationProgress(options)
      const torrent = await api.seed({
        path: resolve(path),
        trackers: options.tracker ?? [],
        webSeeds: options.webseed ?? [],
        peers: validatePeers(options.peer),
        private: options.private ?? false,
        ...(options.superSeed ? { superSeed: true } : {}),
        ...(options.uploadLimit !== undefined ? { uploadLimit: validateRate(options.uploadLimit, '--upload-limit') } : {}),
        ...(options.pieceLength !== undefined ? { pieceLength: parseSize(options.pieceLength) } : {}),
        format: formatOption(options.format),
        ...optionsOf(options),
        ...marketOptions(options)
      }, (progress) => display.update(progress)).finally(() => display.stop())
      if (options.saveTorrent) {
        const { torrent: file } = await api.torrentFile(torrent.infoHash)
        await writeFile(resolve(options.saveTorrent), Buffer.from(file, 'base64'))
      }
      print(options, torrent, () => `seeding ${torrent.name} (${formatBytes(torrent.length ?? 0)})\ninfo hash: ${torrent.infoHash}\nmagnet:    ${torrent.magnet}${options.floor !== undefined ? `\nmarket:    ${marketSummary(torrent)}` : ''}`)
    })

  optionFlags(fileOptions(common(program.command('add <magnet-or-torrent>'))))
    .description('download a magnet link or .torrent file (data already in --out is checked and seeded)')
    .option('--out <dir>', 'download directory (default: the daemon\'s)')
    .option('--peer <host:port>', 'connect to this peer directly (repeatable)', collect)
    .option('--wait', 'show progress and exit 0 only when every piece (of the chosen files) is verified')
    .option('--paused', 'add without starting')
    .option('--upload-limit <rate>', 'upload limit for this torrent')
    .option('--download-limit <rate>', 'download limit for this torrent')
    .option('--bid <price>', 'pay seeders this much per verified MiB, e.g. 50BTT/MiB or 0.03USD/GiB, or "auto" (setting autoBid); needs --budget')
    .option('--budget <amount>', 'the most this download may spend, e.g. 100000BTT or 0.10USD')
    .option('--target <rate>', 'with --bid auto: the download rate wanted, e.g. 10MiB/s (auto-bid pays only while below it)')
    .option('--floor <price>', 'when seeding it, the lowest bid to sell upload slots for')
    .action(async (source: string, options: AddFlags) => {
      const files = fileSelectionOf(options)
      const body = {
        ...(await readSource(source)),
        ...(files ? { files } : {}),
        peers: validatePeers(options.peer),
        paused: options.paused ?? false,
        ...(options.out !== undefined ? { directory: resolve(options.out) } : {}),
        ...(options.uploadLimit !== undefined ? { uploadLimit: validateRate(options.uploadLimit, '--upload-limit') } : {}),
        ...(options.downloadLimit !== undefined ? { downloadLimit: validateRate(options.downloadLimit, '--download-limit') } : {}),
        ...optionsOf(options),
        ...marketOptions(options)
      }
      const api = await client(options)
      let torrent = await api.add(body)
      if (options.wait) {
        if (!options.json) process.stderr.write(`downloading ${torrent.name} (${torrent.infoHash})\n`)
        torrent = await waitForCompletion(api, torrent.infoHash, options)
        print(options, torrent, () => `complete: ${torrent.name}, ${torrent.verifiedPieces}/${torrent.pieceCount ?? 0} pieces verified, in ${torrent.directory}`)
        return
      }
      print(options, torrent, () => `added ${torrent.name}\ninfo hash: ${torrent.infoHash}${options.bid !== undefined || options.floor !== undefined ? `\nmarket:    ${marketSummary(torrent)}` : ''}`)
    })
}

/** `wait`, `ls`, `info`, `peers`, `pause`, `resume`, `rm`, `limit`, `set`, `export`: the torrents the daemon has. */
export function addTorrentListCommands (program: Command): void {
  common(program.command('wait <id>'))
    .description('show progress until every piece of a torrent is verified')
    .action(async (id: string, options: CommonOptions) => {
      const api = await client(options)
      const { infoHash } = await api.torrent(id)
      const torrent = await waitForCompletion(api, infoHash, options)
      print(options, torrent, () => `complete: ${torrent.name}`)
    })

  common(program.command('ls'))
    .description('list torrents')
    .action(async (options: CommonOptions) => {
      const torrents = await (await client(options)).torrents()
      print(options, torrents, () => (torrents.length ? torrents.map(torrentLine).join('\n') : 'no torrents'))
    })

  common(program.command('info <id>'))
    .description('show one torrent (id: info hash, a unique prefix of it, or the name)')
    .action(async (id: string, options: CommonOptions) => {
      const torrent = await (await client(options)).torrent(id)
      print(options, torrent, () => torrentDetails(torrent))
    })

  common(program.command('peers <id>'))
    .description('show a torrent\'s connected peers')
    .action(async (id: string, options: CommonOptions) => {
      const peers = await (await client(options)).peers(id)
      print(options, peers, () => (peers.length ? peers.map(peerLine).join('\n') : 'no peers'))
    })

  for (const [name, description] of [['pause', 'stop transferring a torrent (keeps it and its data)'], ['resume', 'start a paused torrent again']] as const) {
    common(program.command(`${name} <id>`))
      .description(description)
      .action(async (id: string, options: CommonOptions) => {
        const torrent = await (await client(options))[name](id)
        print(options, torrent, () => `${name === 'pause' ? 'paused' : 'resumed'} ${torrent.name}`)
      })
  }

  common(program.command('rm <id>'))
    .description('remove a torrent')
    .option('--delete-data', 'also delete its downloaded files')
    .action(async (id: string, options: CommonOptions & { deleteData?: boolean }) => {
      const result = await (await client(options)).remove(id, options.deleteData ?? false)
      print(options, result, () => `removed ${result.infoHash}${options.deleteData ? ' and its data' : ''}`)
    })

  common(program.command('limit <id>'))
    .description('set a torrent\'s rate limits')
    .option('--upload <rate>', 'upload limit, e.g. 5MiB/s (0 = unlimited)')
    .option('--download <rate>', 'download limit (0 = unlimited)')
    .action(async (id: string, options: CommonOptions & { upload?: string; download?: string }) => {
      if (options.upload === undefined && options.download === undefined) throw new UsageError('give --upload and/or --download')
      const torrent = await (await client(options)).setLimits(id, {
        ...(options.upload !== undefined ? { uploadLimit: validateRate(options.upload, '--upload') } : {}),
        ...(options.download !== undefined ? { downloadLimit: validateRate(options.download, '--download') } : {})
      })
      print(options, torrent, () => `limits for ${torrent.name}: up ${torrent.uploadLimit ? formatRate(torrent.uploadLimit) : 'unlimited'}, down ${torrent.downloadLimit ? formatRate(torrent.downloadLimit) : 'unlimited'}`)
    })

  addSetCommand(program)

  common(program.command('export <id> <file>'))
    .description('write a torrent\'s .torrent file')
    .action(async (id: string, file: string, options: CommonOptions) => {
      const { torrent } = await (await client(options)).torrentFile(id)
      await writeFile(resolve(file), Buffer.from(torrent, 'base64'))
      print(options, { file: resolve(file) }, () => `wrote ${resolve(file)}`)
    })
}

/** `set`: a torrent's labels, seed limits and super-seeding. */
function addSetCommand (program: Command): void {
  optionFlags(common(program.command('set <id>')))
    .description('change a torrent\'s labels (--label replaces them all), seed limits and super-seeding')
    .option('--clear-labels', 'remove every label')
    .option('--super-seed <on|off>', 'initial seeding (BEP 16), for peers that connect from now on')
    .action(async (id: string, options: CommonOptions & OptionFlags & { clearLabels?: boolean, superSeed?: string }) => {
      if (options.clearLabels && options.label !== undefined) throw new UsageError('give --label or --clear-labels, not both')
      if (options.superSeed !== undefined && options.superSeed !== 'on' && options.superSeed !== 'off') throw new UsageError(`--super-seed is on or off, not "${options.superSeed}"`)
      const body = { ...optionsOf(options), ...(options.clearLabels ? { labels: [] } : {}), ...(options.superSeed !== undefined ? { superSeed: options.superSeed === 'on' } : {}) }
      if (Object.keys(body).length === 0) throw new UsageError('give --label, --clear-labels, --seed-ratio, --seed-idle and/or --super-seed')
      const torrent = await (await client(options)).setOptions(id, body)
      print(options, torrent, () => `${torrent.name}: labels ${torrent.labels.length > 0 ? torrent.labels.join(', ') : 'none'}; ${seedLimitsLine(torrent)}`)
    })
}
