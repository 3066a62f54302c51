import { open } from 'node:fs/promises'
import { InvalidTorrentError } from '../util/errors.js'
import type { ReadSegment } from './creation-format.js'
import { FilePool } from './file-pool.js'
import type { SeedFile } from './seed-path.js'

/** Source files open at once while a torrent is made (a read spans a few at most). */
const MAX_OPEN_SOURCES = 16

/**
 * The files a torrent is made of, read-only: unlike PieceStorage, a missing file is an error, never
 * created, and a file that is shorter than it was when the folder was walked is one too (the
 * torrent would not match the data).
 */
export class SourceFiles {
  private readonly pool: FilePool

  constructor (private readonly files: readonly SeedFile[]) {
    this.pool = new FilePool(MAX_OPEN_SOURCES, (index) => open(this.files[index]!.source, 'r'))
  }

  /** Reads the segments end to end into `into`, from its start. */
  async read (segments: readonly ReadSegment[], into: Uint8Array): Promise<void> {
    let offset = 0
    await Promise.all(segments.map((segment) => {
      const at = offset
      offset += segment.length
      return this.pool.use(segment.file, async (handle) => {
        for (let done = 0; done < segment.length;) {
          const { bytesRead } = await handle.read(into, at + done, segment.length - done, segment.position + done)
          if (bytesRead === 0) throw new InvalidTorrentError(`${this.files[segment.file]!.source} became shorter while it was hashed`)
          done += bytesRead
        }
      })
    }))
  }

  close (): Promise<void> {
    return this.pool.close()
  }
}
