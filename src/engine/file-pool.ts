import type { FileHandle } from 'node:fs/promises'
import { LRUCache } from 'lru-cache'

interface PooledFile {
  readonly handle: Promise<FileHandle>
  /** Reads and writes running on it now. */
  users: number
  /** Pushed out of the pool while in use: closed when its last user is done. */
  evicted: boolean
}

/**
 * The torrent's open files, at most `max` at a time (least recently used closed first), as
 * libtorrent's file pool does: a torrent of thousands of files must not hold thousands of
 * descriptors. A file evicted while a read or write runs on it is closed once that finishes.
 */
export class FilePool {
  private readonly files: LRUCache<number, PooledFile>

  constructor (max: number, private readonly opener: (fileIndex: number) => Promise<FileHandle>) {
    this.files = new LRUCache<number, PooledFile>({
      max,
      dispose: (file) => {
        file.evicted = true
        if (file.users === 0) void closeQuietly(file)
      }
    })
  }

  /** How many files are open now (for tests and status). */
  get size (): number {
    return this.files.size
  }

  /** Runs `work` on the file's handle, opening it if needed; the handle stays open while it runs. */
  async use<T> (fileIndex: number, work: (handle: FileHandle) => Promise<T>): Promise<T> {
    let file = this.files.get(fileIndex)
    if (!file) {
      file = { handle: this.opener(fileIndex), users: 0, evicted: false }
      const opening = file
      // A failed open must not stay in the pool: the next access tries again.
      file.handle.catch(() => { if (this.files.peek(fileIndex) === opening) this.files.delete(fileIndex) })
      this.files.set(fileIndex, file)
    }
    file.users++
    try {
      return await work(await file.handle)
    } finally {
      file.users--
      if (file.evicted && file.users === 0) void closeQuietly(file)
    }
  }

  /** Closes every file (those in use close when their work ends). */
  async close (): Promise<void> {
    const files = [...this.files.values()]
    this.files.clear()
    await Promise.all(files.filter((file) => file.users === 0).map(closeQuietly))
  }
}

async function closeQuietly (file: PooledFile): Promise<void> {
  await (await file.handle.catch(() => null))?.close().catch(() => {})
}
