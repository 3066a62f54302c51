import { mkdir, open, rmdir, stat, rm, type FileHandle } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import { FilePool } from './file-pool.js'
import { pieceSpans, type FileSpan } from './file-spans.js'
import { pieceLengthOf, type TorrentFileEntry, type TorrentMeta } from './metainfo.js'
import type { PartsFile } from './parts-file.js'

/** Open files per torrent at most (libtorrent keeps 40 per session by default). */
const MAX_OPEN_FILES = 64

/**
 * Maps pieces onto the torrent's files and moves whole pieces in single reads and writes:
 * the engine never touches the disk per block. Pad files (BEP 47) are never on disk: they read as
 * zeros and writes to them go nowhere. Files set apart (unwanted, not on disk) keep the bytes of
 * the pieces they share with wanted files in the parts file, until they are placed.
 */
export class PieceStorage {
  private readonly files: FilePool
  private readonly dirty = new Set<number>()
  /** Files whose bytes go to the parts file: not wanted, and not in the user's folder. */
  private readonly apart = new Set<number>()
  private closed = false

  constructor (private readonly meta: TorrentMeta, readonly directory: string, maxOpenFiles = MAX_OPEN_FILES, private readonly parts?: PartsFile) {
    this.files = new FilePool(maxOpenFiles, (fileIndex) => this.open(fileIndex))
  }

  /**
   * Sets apart the files not `wanted` that hold no data on disk. One that holds data stays where
   * it is; one that holds none (the sparse file made for it when it was wanted: not a block
   * written) goes, so a file skipped after the torrent was added is not left in the user's folder.
   */
  async setApart (wanted: (fileIndex: number) => boolean): Promise<void> {
    if (!this.parts) return
    for (const [fileIndex, file] of this.meta.files.entries()) {
      if (file.pad || wanted(fileIndex) || this.apart.has(fileIndex)) continue
      const path = this.filePath(file)
      const info = await stat(path).catch(() => null)
      if (info && !(info.isFile() && info.blocks === 0 && info.size === file.length && file.length > 0)) continue
      if (info) await rm(path, { force: true })
      this.apart.add(fileIndex)
    }
  }

  /**
   * Files set apart that are wanted now: they are made in the user's folder, and the bytes of them
   * that `verified` pieces hold (only a file's first and last pieces can be shared) move there from
   * the parts file. What to move is decided, and the files leave the set, before the first await:
   * a piece written from then on goes to the file (the caller lets writes under way settle first).
   */
  async place (fileIndexes: readonly number[], verified: (piece: number) => boolean): Promise<void> {
    const { pieceLength } = this.meta
    const moves: FileSpan[] = []
    const placed = fileIndexes.filter((fileIndex) => this.apart.has(fileIndex))
    for (const fileIndex of placed) {
      this.apart.delete(fileIndex)
      const file = this.meta.files[fileIndex]!
      const edges = new Set([Math.floor(file.offset / pieceLength), Math.floor((file.offset + Math.max(0, file.length - 1)) / pieceLength)])
      for (const piece of edges) {
        const span = verified(piece) ? pieceSpans(this.meta, piece).find((one) => one.fileIndex === fileIndex) : undefined
        if (span) moves.push(span)
      }
    }
    for (const fileIndex of placed) await this.allocateFile(this.meta.files[fileIndex]!)
    for (const span of moves) {
      const data = Buffer.alloc(span.length)
      await this.parts!.read(span.file.offset + span.position, data, 0, span.length)
      await this.use(span.fileIndex, (handle) => writeFully(handle, data, 0, data.length, span.position))
      this.dirty.add(span.fileIndex)
    }
    if (placed.length === 0) return
    await this.sync()
    if (this.apart.size === 0) await this.parts?.delete()
  }

  /** How many of the torrent's files are open now. */
  get openFiles (): number {
    return this.files.size
  }

  filePath (file: TorrentFileEntry): string {
    return join(this.directory, ...file.path.split('/'))
  }

  /** The files that exist on disk: all but the pad files. */
  private realFiles (): TorrentFileEntry[] {
    return this.meta.files.filter((file, index) => !file.pad && !this.apart.has(index))
  }

  /** True when every file exists with at least its full length (data may still be unverified). */
  async filesPresent (): Promise<boolean> {
    for (const file of this.realFiles()) {
      const info = await stat(this.filePath(file)).catch(() => null)
      if (!info || !info.isFile() || info.size < file.length) return false
    }
    return true
  }

  /** True when no byte of the content exists on disk yet (nothing to check). */
  async nothingPresent (): Promise<boolean> {
    for (const file of this.realFiles()) {
      const info = await stat(this.filePath(file)).catch(() => null)
      if (info && info.size > 0) return false
    }
    return true
  }

  /** Creates missing directories and files as sparse files of their final length; never truncates data. */
  async allocate (): Promise<void> {
    for (const file of this.realFiles()) await this.allocateFile(file)
  }

  private async allocateFile (file: TorrentFileEntry): Promise<void> {
    const path = this.filePath(file)
    await mkdir(dirname(path), { recursive: true })
    const handle = await open(path, 'a')
    try {
      const { size } = await handle.stat()
      if (size < file.length) await handle.truncate(file.length)
    } finally {
      await handle.close()
    }
  }

  async writePiece (index: number, data: Uint8Array): Promise<void> {
    await Promise.all(pieceSpans(this.meta, index).filter((segment) => !segment.file.pad).map(async (segment) => {
      if (this.apart.has(segment.fileIndex)) return this.parts!.write(segment.file.offset + segment.position, data, segment.rangeOffset, segment.length)
      await this.use(segment.fileIndex, (handle) => writeFully(handle, data, segment.rangeOffset, segment.length, segment.position))
      this.dirty.add(segment.fileIndex)
    }))
  }

  /** Reads a whole piece into `into` (which must hold at least the piece's length). */
  async readPiece (index: number, into: Uint8Array): Promise<Uint8Array> {
    const length = pieceLengthOf(this.meta, index)
    await Promise.all(pieceSpans(this.meta, index).map(async (segment) => {
      if (segment.file.pad) into.fill(0, segment.rangeOffset, segment.rangeOffset + segment.length)
      else if (this.apart.has(segment.fileIndex)) await this.parts!.read(segment.file.offset + segment.position, into, segment.rangeOffset, segment.length)
      else await this.use(segment.fileIndex, (handle) => readFully(handle, into, segment.rangeOffset, segment.length, segment.position))
    }))
    return into.subarray(0, length)
  }

  /**
   * Makes every write so far durable; resume data may only name pieces written before a sync. A
   * file closed since its writes is opened again for it: fsync flushes the file, whichever
   * descriptor wrote.
   */
  async sync (): Promise<void> {
    const files = [...this.dirty]
    this.dirty.clear()
    await Promise.all([...files.map((fileIndex) => this.use(fileIndex, (handle) => handle.datasync())), this.parts?.sync()])
  }

  /** Makes every write durable and closes the files: the next read opens what is on disk now. */
  async reopen (): Promise<void> {
    await this.sync()
    await this.files.close()
  }

  async close (): Promise<void> {
    this.closed = true
    await Promise.all([this.files.close(), this.parts?.close()])
  }

  /**
   * Deletes exactly the torrent's own files, then the folders on their paths that are empty once
   * they are gone (deepest first, never the download directory itself). Anything else, in those
   * folders or beside them, stays: a folder that still holds a file that is not the torrent's is
   * not removed.
   */
  async deleteFiles (): Promise<void> {
    await this.close()
    await this.parts?.delete()
    const root = resolve(this.directory)
    const folders = new Set<string>()
    for (const file of this.realFiles()) {
      const path = resolve(this.filePath(file))
      await rm(path, { force: true })
      for (let folder = dirname(path); folder !== root && folder.startsWith(`${root}${sep}`); folder = dirname(folder)) folders.add(folder)
    }
    // Deepest first, so that a parent is tried once its children are gone.
    for (const folder of [...folders].sort((a, b) => b.length - a.length)) {
      await rmdir(folder).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST' && err.code !== 'ENOENT') throw err
      })
    }
  }

  private use<T> (fileIndex: number, work: (handle: FileHandle) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('storage is closed'))
    return this.files.use(fileIndex, work)
  }

  private async open (fileIndex: number): Promise<FileHandle> {
    const path = this.filePath(this.meta.files[fileIndex]!)
    await mkdir(dirname(path), { recursive: true })
    return open(path, 'r+').catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
      return open(path, 'w+')
    })
  }

}

async function writeFully (handle: FileHandle, data: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  while (length > 0) {
    const { bytesWritten } = await handle.write(data, offset, length, position)
    offset += bytesWritten
    position += bytesWritten
    length -= bytesWritten
  }
}

async function readFully (handle: FileHandle, into: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  while (length > 0) {
    const { bytesRead } = await handle.read(into, offset, length, position)
    if (bytesRead === 0) {
      // A short file reads as zeros: the hash check will reject the piece.
      into.fill(0, offset, offset + length)
      return
    }
    offset += bytesRead
    position += bytesRead
    length -= bytesRead
  }
}
