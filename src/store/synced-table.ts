import type { Level } from 'level'

export type Database = Level<string, unknown>
export type Sublevel = ReturnType<Database['sublevel']>

export interface PutOperation { type: 'put', key: string, value: unknown, sublevel: Sublevel }
export interface DelOperation { type: 'del', key: string, sublevel: Sublevel }
/** One write of a table, for a batch that writes several tables at once. */
export type TableOperation = PutOperation | DelOperation

/** One sublevel of records by key, every write synced before it resolves. */
export class SyncedTable<V> {
  constructor (private readonly db: Database, private readonly table: Sublevel) {}

  async get (key: string): Promise<V | undefined> {
    return await this.table.get(key) as V | undefined
  }

  async put (key: string, value: V): Promise<void> {
    await this.db.batch([this.putOperation(key, value)], { sync: true })
  }

  /**
   * Written without waiting for the disk: it survives the process being killed (LevelDB hands it to
   * the OS at once), not a power cut. For records that the network restores anyway (a receipt is
   * sent again on the next connection).
   */
  async putEventually (key: string, value: V): Promise<void> {
    await this.db.batch([this.putOperation(key, value)], { sync: false })
  }

  /** For a batch that writes several tables at once. */
  putOperation (key: string, value: V): PutOperation {
    return { type: 'put', key, value, sublevel: this.table }
  }

  delOperation (key: string): DelOperation {
    return { type: 'del', key, sublevel: this.table }
  }

  async all (): Promise<V[]> {
    return await this.table.values().all() as V[]
  }

  /** The records whose keys start with `prefix`, in key order. */
  async withPrefix (prefix: string): Promise<V[]> {
    return await this.table.values({ gte: prefix, lt: `${prefix}\uffff` }).all() as V[]
  }
}
