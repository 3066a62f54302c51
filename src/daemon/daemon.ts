import { constants, existsSync } from 'node:fs'
import { access, mkdir, rm, writeFile, rename, chmod } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Logger } from 'winston'
import { thresholdsFrom } from '../accounting/ledger.js'
import { bidChoker } from '../choker/bid.js'
import { moneyInBtt, type DerivedAmount } from '../config/money.js'
import type { Settings } from '../config/settings.js'
import { Engine } from '../engine/engine.js'
import { engineSettingsFrom } from '../engine/settings-from-config.js'
import type { MarketConfig } from '../market/torrent-market.js'
import type { ChainWallet } from '../settlement/chain-wallet.js'
import type { SettlementRounds } from '../settlement/settlement.js'
import { BidtorrentError, errorMessage } from '../util/errors.js'
import { NetworkLog } from '../util/network-log.js'
import { WEB_ROOT } from '../util/project.js'
import { PASSPHRASE_ENV, walletPath } from '../wallet/paths.js'
import { ApiServer, apiUrlOf, isLoopback } from './api-server.js'
import { addRequestSchema, parseInput } from './api-schemas.js'
import { API_FILE, API_TOKEN_FILE, type ApiEndpoint, type DaemonStatus } from './api-types.js'
import { ChainService } from './chain-service.js'
import type { FaultCounter } from './faults.js'
import { collectWhenIdle } from './idle-collector.js'
import { Lifecycle } from './lifecycle.js'
import type { MarketEngine } from './market-engine.js'
import { DaemonMetrics } from './metrics.js'
import { CompletionCommand, runOnCompletion } from './on-complete.js'
import { SeedLimitWatch } from './seed-limit-watch.js'
import { SessionSettings } from './session-settings.js'
import { StateStore } from './store.js'
import { TorrentOptions } from './torrent-options.js'
import { TransmissionRpc } from './transmission/rpc-server.js'
import { WatchFolder } from './watch-folder.js'
import { TorrentMarkets } from './torrent-markets.js'
import { TorrentService } from './torrent-service.js'
import { VoucherService } from './voucher-service.js'

/** Stored vouchers are redeemed this long after the first new one (and at shutdown). */
const SETTLEMENT_ROUND_MS = 2000
const CHAIN_HEARTBEAT_MS = 60_000
const SHUTDOWN_SETTLEMENT_MS = 10_000
/** How often the daemon looks whether it has turned idle, to give a busy stretch's garbage back. */
const IDLE_COLLECTION_INTERVAL_MS = 30_000

export { API_FILE, type ApiEndpoint }
export const VERSION = '0.1.0'

/**
 * The daemon: its parts (state store, market, engine, torrents, control API, timers) started
 * through one Lifecycle, in that order, and stopped in reverse.
 */
export class Daemon {
  private stopping: Promise<void> | undefined

  private constructor (
    readonly dataDir: string,
    private readonly log: Logger,
    private readonly lifecycle: Lifecycle,
    readonly engine: MarketEngine,
    readonly apiPort: number
  ) {}

  static async start (dataDir: string, settings: Settings, log: Logger, faults?: FaultCounter): Promise<Daemon> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const downloads = settings.downloadDir ?? join(dataDir, 'downloads')
    await writableFolder(downloads)
    const life = new Lifecycle(log)
    const store = await life.start('state store', async () => {
      const opened = new StateStore(join(dataDir, 'state'))
      await opened.open()
      return opened
    }, (opened) => opened.close())
    // Lines peers can cause, rate-limited, for the engine and the market alike.
    const networkLog = new NetworkLog(log)
    const market = await life.start('market', () => marketConfig(dataDir, settings, store, log, networkLog), stopSettlement)
    // The bid-aware choker is the standard one for torrents (and peers) outside the market.
    const engine = await life.start('engine', async () => {
      const started: MarketEngine = new Engine(engineSettingsFrom(settings), { chokeAlgorithm: bidChoker, random: Math.random, networkLog }, log)
      await started.start()
      return started
    }, (started) => started.stop())
    const session = new SessionSettings({ ...settings, downloadDir: downloads }, {
      setRates: (rates) => engine.setGlobalLimits(rates),
      setDownloadDir: async (directory) => {
        await writableFolder(directory)
        // Called only once the daemon runs: the torrents exist by then.
        service.setDefaultDirectory(directory)
      }
    })
    const service = await life.start('torrents', async () => {
      const torrents = new TorrentService(engine, store, downloads, log, new TorrentMarkets(store, log, market, settings.autoBid), new TorrentOptions(store, session),
        { maxFiles: settings.seedMaxFiles, maxBytes: settings.seedMaxBytes }, join(dataDir, 'parts'))
      if (settings.onComplete) runOnCompletion(torrents, new CompletionCommand(settings.onComplete, log))
      try {
        await torrents.restore()
      } catch (err) {
        // A daemon that cannot read its state must not run on without it: stop, and say what to do.
        throw unreadableState(dataDir, err)
      }
      return torrents
    }, (torrents) => torrents.saveAllResume())
    const token = randomBytes(32).toString('hex')
    let apiPort = 0
    const status = (): DaemonStatus => ({
      version: VERSION,
      pid: process.pid,
      dataDir,
      peerPort: engine.listenPort,
      dhtPort: engine.dhtPort ?? null,
      peerId: engine.peerId,
      torrents: engine.list().length,
      wallet: market?.identity.wallet ?? null,
      settlement: market?.settlement.description ?? null,
      btt: market ? { usdPerBtt: market.prices?.describe() ?? null, amountsInUsd: market.derivedAmounts } : null,
      faults: faults?.counted ?? null,
      memory: process.memoryUsage(),
      apiPort
    })
    apiPort = await startApi(life, { settings, dataDir, session, store, market, engine, service, faults, networkLog, status, token, log })
    await life.start('timers', () => ({
      seedLimits: startSeedLimits(service, log),
      resume: setInterval(() => { void service.saveAllResume() }, settings.resumeSaveIntervalSeconds * 1000),
      idle: collectWhenIdle(IDLE_COLLECTION_INTERVAL_MS)
    }), (timers) => {
      clearInterval(timers.resume)
      timers.seedLimits.stop()
      timers.idle.stop()
    })
    if (settings.watchFolder !== null) await startWatchFolder(life, resolve(settings.watchFolder), service, log)
    const daemon = new Daemon(dataDir, log, life, engine, apiPort)
    const url = apiUrlOf(settings.apiHost, apiPort)
    await daemon.writeEndpoint({ url, token, pid: process.pid })
    log.info('daemon ready', { dataDir, peerPort: engine.listenPort, api: url, apiHost: settings.apiHost, dashboard: `${url}/` })
    return daemon
  }

  /** Flushes resume data, closes peers, the API and the database; safe to call more than once. */
  stop (): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('daemon stopping')
      await this.lifecycle.stop()
      // Last: a CLI waiting for the daemon to stop watches this file.
      await rm(join(this.dataDir, API_TOKEN_FILE), { force: true })
      await rm(join(this.dataDir, API_FILE), { force: true })
      this.log.info('daemon stopped')
    })()
    return this.stopping
  }

  private async writeEndpoint (endpoint: ApiEndpoint): Promise<void> {
    await writePrivate(join(this.dataDir, API_TOKEN_FILE), endpoint.token)
    await writePrivate(join(this.dataDir, API_FILE), JSON.stringify(endpoint))
  }
}

/** Written whole or not at all, readable by the owner only: it holds the key to the API. */
async function writePrivate (path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`
  await writeFile(temporary, text, { mode: 0o600 })
  await chmod(temporary, 0o600)
  await rename(temporary, path)
}

interface ApiParts {
  readonly settings: Settings
  readonly dataDir: string
  readonly session: SessionSettings
  readonly store: StateStore
  readonly market: DaemonMarket | undefined
  readonly engine: MarketEngine
  readonly service: TorrentService
  readonly faults: FaultCounter | undefined
  readonly networkLog: NetworkLog
  readonly status: () => DaemonStatus
  readonly token: string
  readonly log: Logger
}

/** The control API with what it serves: the torrents, the books, the chain, metrics and Transmission's RPC. */
async function startApi (life: Lifecycle, parts: ApiParts): Promise<number> {
  const { settings, dataDir, session, store, market, engine, service, faults, networkLog, status, token, log } = parts
  const vouchers = new VoucherService(store, market)
  const metrics = new DaemonMetrics({
    torrents: () => service.list(),
    peers: (infoHash) => service.peers(infoHash),
    earnings: market ? () => vouchers.earnings() : undefined,
    spending: market ? () => vouchers.spending() : undefined,
    settlement: market?.settlement.health?.bind(market.settlement),
    peerProblems: () => networkLog.counts(),
    hashChecks: () => engine.hasher.checks,
    faults: () => faults?.counted ?? null
  })
  const transmission = new TransmissionRpc({
    torrents: service,
    version: `3.00 (bidtorrent ${VERSION})`,
    peerPort: () => engine.listenPort,
    session,
    configDir: dataDir,
    earnings: market ? () => vouchers.earnings() : undefined
  }, token, settings.rpcAllowedHosts, log, settings.rpcWebFolder === null ? null : resolve(settings.rpcWebFolder))
  const api = new ApiServer({
    torrents: service,
    vouchers,
    metrics,
    transmission,
    chain: new ChainService(market?.chainWallet, market?.settlement.backend, settings.channelLifetimeSeconds),
    status
  }, token, { allowedHosts: settings.rpcAllowedHosts, webRoot: WEB_ROOT }, log)
  if (!isLoopback(settings.apiHost)) {
    log.warn('the control API, the dashboard and the Transmission RPC listen beyond this machine (apiHost): anyone who reaches the address and has the token drives the daemon, over plain HTTP', { apiHost: settings.apiHost })
  }
  return await life.start('control API', () => api.listen(settings.apiPort, settings.apiHost),
    () => api.close().catch((err: unknown) => log.warn('closing API failed', { error: errorMessage(err) })))
}

function startSeedLimits (torrents: TorrentService, log: Logger): SeedLimitWatch {
  const watch = new SeedLimitWatch(torrents, log)
  watch.start()
  return watch
}

async function startWatchFolder (life: Lifecycle, folder: string, service: TorrentService, log: Logger): Promise<void> {
  await life.start('watch folder', async () => {
    await mkdir(folder, { recursive: true })
    const watcher = new WatchFolder(folder, (torrentFile) => service.add(parseInput(addRequestSchema, { torrent: torrentFile.toString('base64') })), log)
    watcher.start()
    return watcher
  }, (watcher) => watcher.stop())
}

/** Stops the settlement rounds; a slow chain must not hold the daemon up: every claim step is durable and resumes at the next start. */
async function stopSettlement (market: DaemonMarket | undefined): Promise<void> {
  if (!market) return
  market.rounds.stop()
  await Promise.race([market.rounds.flush(), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_SETTLEMENT_MS).unref())])
}

/** The download directory must take files now: a read-only one would fail only at the first `add`. */
async function writableFolder (folder: string): Promise<void> {
  try {
    await mkdir(folder, { recursive: true })
    await access(folder, constants.W_OK)
  } catch (err) {
    throw new BidtorrentError('EDOWNLOADDIR', `the download directory ${folder} cannot be written to (${errorMessage(err)}); set downloadDir to a folder this user can write`)
  }
}

/** The error for state that cannot be read: what happened, and what the user can do about it. */
export function unreadableState (dataDir: string, err: unknown): BidtorrentError {
  return new BidtorrentError('ESTATE', `cannot read the daemon's state in ${join(dataDir, 'state')} (${errorMessage(err)}); ` +
    'it is left as it is: restore that folder from a backup, or move it aside to start with no torrents (downloaded files are not touched; the wallet stays in wallet.json)')
}

/** The market's configuration, with what the daemon itself keeps of it. */
type DaemonMarket = MarketConfig & { rounds: SettlementRounds, chainWallet?: ChainWallet, derivedAmounts: readonly DerivedAmount[] }

/**
 * The market's configuration, when it can run: the market is on, a wallet exists, and
 * $BIDTORRENT_PASSPHRASE unlocks it. Without a wallet or a passphrase the daemon runs as a plain
 * BitTorrent client and says so; a wrong passphrase stops it (a silent fallback would hide a typo).
 */
async function marketConfig (dataDir: string, settings: Settings, store: StateStore, log: Logger, networkLog: NetworkLog): Promise<DaemonMarket | undefined> {
  if (!settings.market) return undefined
  if (!existsSync(walletPath(dataDir))) {
    log.info('no wallet: the market is off (create one with "bidtorrent wallet create")')
    return undefined
  }
  const passphrase = process.env[PASSPHRASE_ENV]
  if (!passphrase) {
    log.warn(`a wallet exists but ${PASSPHRASE_ENV} is not set: the market is off`)
    return undefined
  }
  // Loaded only now: the wallet and the market's signing code are heavy, and plain daemons skip them.
  const [{ unlockWallet }, { settlementFrom }, { SettlementRounds }, { PriceOracle }] = await Promise.all([
    import('../wallet/keystore.js'), import('../settlement/backend.js'), import('../settlement/settlement.js'), import('../market/price-oracle.js')
  ])
  const wallet = await unlockWallet(dataDir, passphrase)
  const prices = new PriceOracle({ usdPerBtt: settings.usdPerBtt, url: settings.priceSourceUrl, path: settings.priceSourcePath, refreshSeconds: settings.priceRefreshSeconds }, log)
  await prices.start()
  const money = moneyInBtt(settings, prices.usdPerBtt)
  if (money.derived.length > 0) {
    log.info('amounts given in USD, in BTT', { usdPerBtt: prices.describe(), ...Object.fromEntries(money.derived.map((entry) => [entry.setting, `${entry.given} = ${entry.readable}`])) })
  }
  const { settlement, chainWallet } = await settlementFrom(settings, money.values, store, wallet, log)
  // A chain backend also needs rounds with nothing new: claims due before a channel's end, and retries.
  const heartbeatMs = settlement.fundChannel ? CHAIN_HEARTBEAT_MS : 0
  const rounds = new SettlementRounds(settlement, () => store.receivedVouchers.all(), SETTLEMENT_ROUND_MS,
    (err) => log.error('settlement round failed (it runs again)', { error: errorMessage(err) }), heartbeatMs)
  // Claims left unfinished by the last run (a crash, an outage) resume at once, not at the first heartbeat.
  if (heartbeatMs > 0) rounds.markDirty()
  log.info('market on', { wallet: wallet.tron, settlement: settlement.description })
  return {
    rounds,
    ...(chainWallet ? { chainWallet } : {}),
    onVoucherStored: () => rounds.markDirty(),
    networkLog,
    identity: { wallet: wallet.tron, privateKey: wallet.privateKey, chainId: settlement.domain.chainId },
    settlement,
    store,
    auction: { clearing: settings.marketClearing, reservedShare: settings.marketReservedShare, minReservedSlots: settings.marketMinReservedSlots },
    defaultFloor: settings.marketFloor,
    autoBidSpendingRate: settings.autoBidSpendingRate,
    channelDeposit: money.values.channelDeposit,
    prices,
    derivedAmounts: money.derived,
    settleNow: async () => {
      const { error } = await rounds.flush(true)
      return { redemptions: await settlement.redemptions(), ...(error !== undefined ? { error } : {}) }
    },
    thresholds: thresholdsFrom(money.values.paymentThreshold, settings.paymentTolerancePercent)
  }
}
