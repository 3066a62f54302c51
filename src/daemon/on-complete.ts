import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import type { TorrentService } from './torrent-service.js'

/** What the command is told of the torrent that finished. */
export interface CompletedTorrent {
  readonly infoHash: string
  readonly name: string
  readonly directory: string
}

/** Commands running at once; later completions wait their turn (a swarm finishing many torrents must not fork a crowd). */
const MAX_RUNNING = 2
/** A command still running after this long is stopped: a hung script must not pile up. */
const TIME_LIMIT_MS = 10 * 60_000
/** What is kept of a command's output for the log. */
const OUTPUT_KEPT = 2048

/**
 * The environment a completion command sees: ours, and Transmission's names too, so that scripts
 * written for its script-torrent-done run unchanged.
 */
export function completionEnvironment (torrent: CompletedTorrent): NodeJS.ProcessEnv {
  const path = join(torrent.directory, torrent.name)
  return {
    BIDTORRENT_TORRENT_ID: torrent.infoHash,
    BIDTORRENT_TORRENT_NAME: torrent.name,
    BIDTORRENT_TORRENT_DIR: torrent.directory,
    BIDTORRENT_TORRENT_PATH: path,
    TR_TORRENT_HASH: torrent.infoHash,
    TR_TORRENT_NAME: torrent.name,
    TR_TORRENT_DIR: torrent.directory
  }
}

/**
 * Runs the `onComplete` command (through /bin/sh, as the user wrote it in the daemon's own
 * configuration) when a torrent finishes downloading, with the torrent in its environment. The
 * daemon never waits for it: its exit status and the start of its output are logged.
 */
export class CompletionCommand {
  private running = 0
  private readonly waiting: CompletedTorrent[] = []

  constructor (private readonly command: string, private readonly log: Logger) {}

  completed (torrent: CompletedTorrent): void {
    this.waiting.push(torrent)
    this.next()
  }

  private next (): void {
    while (this.running < MAX_RUNNING && this.waiting.length > 0) this.run(this.waiting.shift()!)
  }

  private run (torrent: CompletedTorrent): void {
    this.running++
    let output = ''
    const keep = (chunk: Buffer): void => { if (output.length < OUTPUT_KEPT) output += chunk.toString().slice(0, OUTPUT_KEPT - output.length) }
    const child = spawn('/bin/sh', ['-c', this.command], { env: { ...process.env, ...completionEnvironment(torrent) }, stdio: ['ignore', 'pipe', 'pipe'], cwd: torrent.directory })
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    const timer = setTimeout(() => child.kill('SIGKILL'), TIME_LIMIT_MS).unref()
    let finished = false
    const finish = (fields: Record<string, unknown>, failed: boolean): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      this.running--
      const line = { infoHash: torrent.infoHash, command: this.command, ...fields, ...(output ? { output: output.trim() } : {}) }
      if (failed) this.log.warn('the onComplete command failed', line)
      else this.log.info('the onComplete command ran', line)
      this.next()
    }
    child.once('error', (err) => finish({ error: errorMessage(err) }, true))
    child.once('close', (code, signal) => finish({ exitCode: code, signal }, code !== 0))
  }
}

/**
 * Runs the command for each torrent that completes by downloading: not for one found complete when
 * it is added or the daemon starts (nothing was downloaded), as Transmission's script runs only
 * when a download finishes.
 */
export function runOnCompletion (torrents: TorrentService, command: CompletionCommand): void {
  torrents.events.subscribe((infoHash, event) => {
    if (event.type !== 'complete') return
    const torrent = torrents.list().find((view) => view.infoHash === infoHash)
    if (torrent && torrent.piecesDownloaded > 0) command.completed(torrent)
  })
}
