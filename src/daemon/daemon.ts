import { mkdir, rm, writeFile, rename, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Logger } from 'winston'
import { standardChoker } from '../choker/standard.js'
import type { Settings } from '../config/settings.js'
import { Engine } from '../engine/engine.js'
import { engineSettingsFrom } from '../engine/settings-from-config.js'
import { errorMessage } from '../util/errors.js'
import { ApiServer, API_HOST } from './api-server.js'
import { DaemonService } from './service.js'
import { StateStore } from './store.js'

export const API_FILE = 'api.json'
export const VERSION = '0.1.0'

/** Where a CLI finds the daemon: written mode 0600, since the token is the only key to the API. */
export interface ApiEndpoint {
  readonly url: string
  readonly token: string
  readonly pid: number
}

export class Daemon {
  private resumeTimer: NodeJS.Timeout | undefined
  private stopping: Promise<void> | undefined

  private constructor (
    readonly dataDir: string,
    private readonly log: Logger,
    private readonly store: StateStore,
    readonly engine: Engine,
    private readonly service: DaemonService,
    private readonly api: ApiServer,
    readonly apiPort: number
  ) {}

  static async start (dataDir: string, settings: Settings, log: Logger): Promise<Daemon> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const store = new StateStore(join(dataDir, 'state'))
    await store.open()
    const engine = new Engine(engineSettingsFrom(settings), { chokeAlgorithm: standardChoker, random: Math.random }, log)
    try {
      await engine.start()
    } catch (err) {
      await store.close()
      throw err
    }
    const downloads = settings.downloadDir ?? join(dataDir, 'downloads')
    const service = new DaemonService(engine, store, downloads, log)
    await service.restore()
    const token = randomBytes(32).toString('hex')
    let apiPort = 0
    const status = (): unknown => ({
      version: VERSION,
      pid: process.pid,
      dataDir,
      peerPort: engine.listenPort,
      dhtPort: engine.dhtPort ?? null,
      peerId: engine.peerId,
      torrents: engine.list().length,
      memory: process.memoryUsage(),
      apiPort
    })
    const api = new ApiServer(service, token, log, status)
    try {
      apiPort = await api.listen(settings.apiPort)
    } catch (err) {
      await engine.stop()
      await store.close()
      throw err
    }
    const daemon = new Daemon(dataDir, log, store, engine, service, api, apiPort)
    await daemon.writeEndpoint({ url: `http://${API_HOST}:${apiPort}`, token, pid: process.pid })
    daemon.resumeTimer = setInterval(() => { void service.saveAllResume() }, settings.resumeSaveIntervalSeconds * 1000)
    log.info('daemon ready', { dataDir, peerPort: engine.listenPort, api: `http://${API_HOST}:${apiPort}` })
    return daemon
  }

  /** Flushes resume data, closes peers, the API and the database; safe to call more than once. */
  stop (): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('daemon stopping')
      clearInterval(this.resumeTimer)
      await this.api.close().catch((err: unknown) => this.log.warn('closing API failed', { error: errorMessage(err) }))
      await this.service.saveAllResume()
      await this.engine.stop()
      await this.store.close()
      await rm(join(this.dataDir, API_FILE), { force: true })
      this.log.info('daemon stopped')
    })()
    return this.stopping
  }

  private async writeEndpoint (endpoint: ApiEndpoint): Promise<void> {
    const path = join(this.dataDir, API_FILE)
    const temporary = `${path}.${process.pid}.tmp`
    await writeFile(temporary, JSON.stringify(endpoint), { mode: 0o600 })
    await chmod(temporary, 0o600)
    await rename(temporary, path)
  }
}
