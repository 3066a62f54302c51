import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import type { PieceProgress } from './blocks.js'
import type { TorrentMeta } from './metainfo.js'
import type { PieceRequests } from './piece-requests.js'
import type { TransferStats } from './transfer-stats.js'
import { fetchRange, WebSeedAgents, WebSeedFetchError } from './web-seed-http.js'
import { afterFailure, afterSuccess, HEALTHY, type WebSeedHealth } from './web-seed-plan.js'
import { checkWebSeedUrl, fileRanges, fileUrl } from './web-seed-url.js'

/** Requests in flight to one web seed at a time (BEP 19 clients open a few connections). */
const CONNECTIONS_PER_WEB_SEED = 2
/** One request covers up to this many consecutive pieces, and this many bytes (but always one piece). */
const MAX_PIECES_PER_REQUEST = 4
const MAX_BYTES_PER_REQUEST = 4 * 1024 * 1024
const PUMP_MS = 1000
/**
 * A request slower than this overall is given up (as a timeout), so that a server trickling bytes
 * cannot hold pieces that peers could give: at least 30 s, more for a large request.
 */
const SLOWEST_BYTES_PER_SECOND = 32 * 1024
const MIN_DEADLINE_MS = 30_000

export type WebSeedState = 'idle' | 'fetching' | 'backing-off' | 'failed' | 'banned' | 'refused'

/** One web seed, for the user. */
export interface WebSeedStatus {
  readonly url: string
  readonly state: WebSeedState
  /** Verified-or-not bytes received from it in this run. */
  readonly downloaded: number
  readonly errors: number
  /** The last failure, or why it is not used (refused, given up, banned). */
  readonly lastError: string | null
  /** While backing off: when it is asked again (ms since the epoch). */
  readonly retryAt: number | null
}

export interface WebSeedsInit {
  readonly meta: TorrentMeta
  readonly requests: PieceRequests
  readonly stats: TransferStats
  readonly log: Logger
  readonly infoHash: string
  /** Web seeds on this machine or a private network (refused by default: a .torrent names any URL). */
  readonly allowPrivate: boolean
  readonly timeoutMs: number
  readonly downloading: () => boolean
  readonly destroyed: () => boolean
}

/** The torrent stopped the request (pause, destroy, ban): not the web seed's failure. */
class JobStopped extends Error {}

class WebSeed {
  health: WebSeedHealth = HEALTHY
  downloaded = 0
  errors = 0
  lastError: string | null = null
  banned: string | null = null
  readonly jobs = new Set<AbortController>()

  constructor (readonly url: string, readonly base: URL | undefined, public refused: string | null) {}

  get ended (): boolean {
    return this.banned !== null || this.refused !== null || this.health.gaveUp !== null
  }

  status (now: number): WebSeedStatus {
    const state: WebSeedState = this.refused !== null ? 'refused'
      : this.banned !== null ? 'banned'
        : this.health.gaveUp !== null ? 'failed'
          : this.health.retryAt > now ? 'backing-off'
            : this.jobs.size > 0 ? 'fetching' : 'idle'
    const lastError = this.refused ?? this.banned ?? this.health.gaveUp ?? this.lastError
    return { url: this.url, state, downloaded: this.downloaded, errors: this.errors, lastError, retryAt: state === 'backing-off' ? this.health.retryAt : null }
  }

  abort (): void {
    for (const job of this.jobs) job.abort()
  }
}

/**
 * A torrent's web seeds (BEP 19): each takes whole pieces nobody is fetching (the pieces no peer
 * has first), a few at a time, in range requests split at file boundaries, and hands them to the
 * same verification as peers' pieces. Failures back off (web-seed-plan.ts); a web seed whose piece
 * fails its hash check is banned for the torrent. Its bytes are counted apart and never charged.
 */
export class WebSeeds {
  private readonly seeds: WebSeed[]
  private readonly agents = new WebSeedAgents(CONNECTIONS_PER_WEB_SEED)
  private readonly timer: NodeJS.Timeout | undefined
  /** Bytes received from every web seed. */
  downloaded = 0

  constructor (private readonly init: WebSeedsInit) {
    this.seeds = [...new Set(init.meta.webSeeds)].map((text) => {
      const checked = checkWebSeedUrl(text)
      return 'url' in checked ? new WebSeed(text, checked.url, null) : new WebSeed(text, undefined, `refused: ${checked.refused}`)
    })
    if (this.seeds.some((seed) => !seed.ended)) {
      this.timer = setInterval(() => this.pump(), PUMP_MS)
      this.timer.unref()
    }
  }

  status (): WebSeedStatus[] {
    const now = Date.now()
    return this.seeds.map((seed) => seed.status(now))
  }

  /** Starts requests where a web seed has room and pieces are free; stops them all once the torrent is not downloading. */
  pump (): void {
    if (this.init.destroyed()) return this.stop()
    if (!this.init.downloading()) {
      for (const seed of this.seeds) seed.abort()
      return
    }
    const now = Date.now()
    const perRequest = Math.max(1, Math.min(MAX_PIECES_PER_REQUEST, Math.floor(MAX_BYTES_PER_REQUEST / this.init.meta.pieceLength)))
    for (const seed of this.seeds) {
      while (!seed.ended && seed.health.retryAt <= now && seed.jobs.size < CONNECTIONS_PER_WEB_SEED) {
        const pieces = this.init.requests.claimForWebSeed(perRequest)
        if (pieces.length === 0) return
        void this.fetch(seed, pieces)
      }
    }
  }

  /**
   * A piece failed its hash check: a web seed among its senders is banned (its pieces are whole,
   * so the blame is certain). Returns the senders that are peers.
   */
  blame (senders: readonly string[]): string[] {
    const peers: string[] = []
    for (const sender of senders) {
      const seed = this.seeds.find((candidate) => candidate.url === sender)
      if (!seed) {
        peers.push(sender)
        continue
      }
      seed.banned = 'banned: it served a piece that failed its hash check'
      seed.abort()
      this.init.log.warn('web seed banned', { infoHash: this.init.infoHash, url: seed.url, reason: seed.banned })
    }
    return peers
  }

  stop (): void {
    clearInterval(this.timer)
    for (const seed of this.seeds) seed.abort()
    this.agents.destroy()
  }

  private async fetch (seed: WebSeed, pieces: PieceProgress[]): Promise<void> {
    const job = new AbortController()
    seed.jobs.add(job)
    const first = pieces[0]!
    const length = pieces.reduce((sum, piece) => sum + piece.length, 0)
    // Its own buffer, not the pieces': a piece given up meanwhile (a pause) may already serve another.
    const into = Buffer.allocUnsafe(length)
    let stopped = false
    const deadlineMs = Math.max(MIN_DEADLINE_MS, (length / SLOWEST_BYTES_PER_SECOND) * 1000)
    const deadline = setTimeout(() => job.abort(new WebSeedFetchError('timeout', `${length} bytes not received in ${Math.round(deadlineMs / 1000)} s`)), deadlineMs)
    try {
      const fetched = await this.fetchInto(seed, job, first.index * this.init.meta.pieceLength, into)
      seed.health = afterSuccess(seed.health)
      seed.downloaded += fetched
      this.downloaded += fetched
      this.init.stats.received(fetched)
      this.deliver(seed, pieces, into)
    } catch (err) {
      stopped = err instanceof JobStopped
      for (const piece of pieces) this.init.requests.webSeedFailed(piece)
      if (!stopped) this.failed(seed, err)
    } finally {
      clearTimeout(deadline)
      seed.jobs.delete(job)
    }
    if (!stopped) this.pump()
  }

  /**
   * One range request per file the bytes span, in parallel; the first failure stops the others
   * before it returns. Resolves with the bytes fetched (pad files are zeros, not fetched).
   */
  private async fetchInto (seed: WebSeed, job: AbortController, start: number, into: Buffer): Promise<number> {
    const { meta } = this.init
    const options = { allowPrivate: this.init.allowPrivate, timeoutMs: this.init.timeoutMs, agents: this.agents }
    const ranges = fileRanges(meta.files, start, into.length)
    const fetches = ranges.map((range) => {
      const file = meta.files[range.file]!
      // Pad files (BEP 47) are zeros: never asked for.
      if (file.pad) return Promise.resolve(void into.fill(0, range.bufferOffset, range.bufferOffset + range.length))
      const url = fileUrl(seed.base!, meta, file)
      return fetchRange({ url, position: range.position, length: range.length, fileLength: file.length, into, offset: range.bufferOffset, signal: job.signal }, options)
    })
    try {
      await Promise.all(fetches)
      return ranges.reduce((sum, range) => sum + (meta.files[range.file]!.pad ? 0 : range.length), 0)
    } catch (err) {
      const stopped = job.signal.aborted
      const reason: unknown = job.signal.reason
      job.abort()
      await Promise.allSettled(fetches)
      if (!stopped) throw err
      throw reason instanceof WebSeedFetchError ? reason : new JobStopped()
    }
  }

  private deliver (seed: WebSeed, pieces: PieceProgress[], data: Buffer): void {
    let offset = 0
    for (const piece of pieces) {
      if (this.init.requests.isCurrent(piece)) data.copy(piece.buffer, 0, offset, offset + piece.length)
      offset += piece.length
      this.init.requests.webSeedDelivered(piece, seed.url)
    }
  }

  private failed (seed: WebSeed, err: unknown): void {
    const failure = err instanceof WebSeedFetchError ? err : new WebSeedFetchError('network', errorMessage(err))
    seed.errors++
    seed.lastError = failure.message
    // A request that was in flight when another failed is the same outage: the back-off counts it once.
    if (seed.health.retryAt > Date.now() && failure.kind !== 'refused') return
    seed.health = afterFailure(seed.health, failure, Date.now())
    if (failure.kind === 'refused') seed.refused = `refused: ${failure.message}`
    const { infoHash } = this.init
    if (seed.ended) this.init.log.warn('web seed not used', { infoHash, url: seed.url, reason: seed.refused ?? seed.health.gaveUp })
    else this.init.log.debug('web seed request failed', { infoHash, url: seed.url, error: failure.message, retryAt: seed.health.retryAt })
  }
}
