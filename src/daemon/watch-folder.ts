import { watch, type FSWatcher } from 'node:fs'
import { readFile, readdir, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'winston'
import { MAX_TORRENT_FILE_BYTES } from '../engine/metainfo.js'
import { InvalidTorrentError, errorMessage } from '../util/errors.js'

/** A folder is looked at again this often even without a change notice (inotify misses network filesystems). */
const RESCAN_MS = 10_000
/** A .torrent that does not parse is given this long to be written completely before it is called invalid. */
const SETTLE_MS = 10_000

/**
 * Adds every .torrent file that appears in a folder (Transmission's watch-dir), then renames it to
 * `NAME.torrent.added`, so it is taken once and the user sees it was; a file that is not a torrent
 * becomes `NAME.torrent.invalid`, with the reason in the log.
 */
export class WatchFolder {
  private watcher: FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private scanning: Promise<void> | undefined
  private again = false
  /** The last failure said for each file: a file that keeps failing the same way is logged once. */
  private readonly said = new Map<string, string>()

  constructor (private readonly folder: string, private readonly add: (torrentFile: Buffer) => Promise<unknown>, private readonly log: Logger) {}

  start (): void {
    try {
      this.watcher = watch(this.folder, () => this.scanSoon())
      this.watcher.on('error', (err) => this.log.warn('watching the watch folder failed; it is still scanned every 10 s', { folder: this.folder, error: errorMessage(err) }))
    } catch (err) {
      this.log.warn('cannot watch the watch folder for changes; it is scanned every 10 s', { folder: this.folder, error: errorMessage(err) })
    }
    this.timer = setInterval(() => this.scanSoon(), RESCAN_MS)
    this.timer.unref()
    this.scanSoon()
  }

  async stop (): Promise<void> {
    this.watcher?.close()
    clearInterval(this.timer)
    await this.scanning
  }

  /** One scan at a time; a change during a scan asks for one more. */
  private scanSoon (): void {
    if (this.scanning) {
      this.again = true
      return
    }
    this.scanning = this.scan().finally(() => {
      this.scanning = undefined
      if (this.again) {
        this.again = false
        this.scanSoon()
      }
    })
  }

  private async scan (): Promise<void> {
    let names: string[]
    try {
      names = await readdir(this.folder)
    } catch (err) {
      this.log.warn('cannot read the watch folder', { folder: this.folder, error: errorMessage(err) })
      return
    }
    for (const name of names) {
      if (name.toLowerCase().endsWith('.torrent')) await this.take(join(this.folder, name))
    }
  }

  private async take (path: string): Promise<void> {
    try {
      const info = await stat(path)
      if (!info.isFile()) return
      if (info.size > MAX_TORRENT_FILE_BYTES) return await this.refuse(path, 'larger than 50 MiB')
      await this.add(await readFile(path))
      await rename(path, `${path}.added`)
      this.said.delete(path)
      this.log.info('added a torrent from the watch folder', { file: path })
    } catch (err) {
      if (!(err instanceof InvalidTorrentError)) {
        const error = errorMessage(err)
        if (this.said.get(path) !== error) this.log.warn('a torrent in the watch folder could not be added; it is tried again', { file: path, error })
        this.said.set(path, error)
        return
      }
      // A file still being copied does not parse yet: wait until it has been left alone a while.
      const modified = await stat(path).then((info) => info.mtimeMs, () => 0)
      if (Date.now() - modified < SETTLE_MS) return
      await this.refuse(path, errorMessage(err))
    }
  }

  private async refuse (path: string, reason: string): Promise<void> {
    this.said.delete(path)
    this.log.warn('a file in the watch folder is not a torrent; renamed to .invalid', { file: path, reason })
    await rename(path, `${path}.invalid`).catch(() => {})
  }
}
