import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import type { PaidPiecesRecord } from '../settlement/records.js'
import type { SyncedTable } from '../store/synced-table.js'

/**
 * Writes a torrent's verified set before a newly verified piece counts as verified: without a
 * sync (it survives the process being killed, which is what loses pieces in practice), batched
 * (pieces verified while a write is under way go in the next one). After a crash the pieces named
 * here and missing from the resume data are checked on disk, so no verified piece is fetched again.
 */
export class RecentPieces {
  private waiting: Array<{ readonly index: number, readonly done: () => void }> = []
  private writing = false

  constructor (
    private readonly infoHash: string,
    /** The torrent's verified pieces now (without the ones waiting here). */
    private readonly verified: () => Buffer | undefined,
    private readonly table: SyncedTable<PaidPiecesRecord>,
    private readonly log: Logger
  ) {}

  /** Resolves once a record naming `index` is written (or writing failed and was logged: the piece still counts). */
  add (index: number): Promise<void> {
    return new Promise((done) => {
      this.waiting.push({ index, done })
      void this.flush()
    })
  }

  private async flush (): Promise<void> {
    if (this.writing) return
    this.writing = true
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0)
        const bits = this.verified()
        if (bits) {
          for (const { index } of batch) if ((index >> 3) < bits.length) bits[index >> 3]! |= 0x80 >> (index & 7)
          await this.table.putEventually(this.infoHash, { bitfield: bits.toString('base64'), at: new Date().toISOString() })
            .catch((err: unknown) => this.log.warn('cannot record the verified pieces', { infoHash: this.infoHash, error: errorMessage(err) }))
        }
        for (const { done } of batch) done()
      }
    } finally {
      this.writing = false
    }
  }
}
