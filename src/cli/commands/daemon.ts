import { resolve } from 'node:path'
import { Option, type Command } from 'commander'
import { loadSettings } from '../../config/settings.js'
import { Daemon } from '../../daemon/daemon.js'
import { FaultCounter } from '../../daemon/faults.js'
import { createLogger } from '../../daemon/logger.js'
import { UsageError, errorMessage } from '../../util/errors.js'
import { statusLines } from '../format.js'
import { client, common, dataDirOf, print, validateRate, type CommonOptions } from '../options.js'

type DaemonFlags = Record<string, string | boolean | undefined>

/** `daemon`: runs the daemon in this process. */
export function addDaemonCommand (program: Command): void {
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
    .action(async (options: DaemonFlags, command: Command) => {
      const dataDir = dataDirOf(options as CommonOptions)
      const settings = loadSettings({ dataDir, ...(options.config ? { configFile: resolve(String(options.config)) } : {}), overrides: overridesOf(options, command) })
      await runDaemon(dataDir, settings)
    })
}

/** `status`: what the running daemon says of itself. */
export function addStatusCommand (program: Command): void {
  common(program.command('status'))
    .description('show the daemon\'s status')
    .action(async (options: CommonOptions) => {
      const status = await (await client(options)).status()
      print(options, status, () => statusLines(status).join('\n'))
    })
}

/** The settings the daemon's flags override. */
function overridesOf (options: DaemonFlags, command: Command): Record<string, unknown> {
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
  return overrides
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
