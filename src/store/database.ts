import { Level } from 'level'
import { BidtorrentError, errorMessage } from '../util/errors.js'
import { SyncedTable, type Database, type TableOperation } from './synced-table.js'

/**
 * The daemon's level database (JSON values), made of synced tables. A table's name is its
 * sublevel's name on disk: renaming one loses what it holds.
 */
export class SyncedDatabase {
  private readonly db: Database

  constructor (private readonly path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: 'json' })
  }

  /** The table kept in the sublevel `name`. */
  table<V> (name: string): SyncedTable<V> {
    return new SyncedTable<V>(this.db, this.db.sublevel(name, { valueEncoding: 'json' }))
  }

  /** Writes to several tables at once (operations from their putOperation and delOperation), synced. */
  async batch (operations: TableOperation[]): Promise<void> {
    await this.db.batch(operations, { sync: true })
  }

  /** Opens it, or says plainly why not: another daemon holds it (ELOCKED), or it cannot be read (ESTATE). */
  async open (): Promise<void> {
    try {
      await this.db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new BidtorrentError('ELOCKED', 'another bidtorrent daemon is already using this data directory')
      }
      throw new BidtorrentError('ESTATE', `cannot open the daemon's state in ${this.path} (${errorMessage(cause ?? err)}); it is left as it is: restore that folder from a backup, or move it aside to start with no torrents`)
    }
  }

  async close (): Promise<void> {
    await this.db.close()
  }
}
