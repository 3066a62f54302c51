import { Level } from 'level'
import { BidtorrentError } from '../util/errors.js'

/** What the daemon remembers about a torrent across restarts. */
export interface TorrentRecord {
  readonly infoHash: string
  readonly name: string
  readonly directory: string
  /** The .torrent file (base64) once metadata is known. */
  readonly torrentFile?: string
  readonly magnet?: string
  readonly paused: boolean
  readonly addedAt: string
  readonly uploadLimit: number
  readonly downloadLimit: number
  readonly peers: readonly string[]
}

export interface ResumeRecord {
  /** Verified pieces whose data was synced to disk before this record was written. */
  readonly bitfield: string
  readonly savedAt: string
}

/** The daemon's durable state in `level`; every write is synced before it is acknowledged. */
export class StateStore {
  private readonly db: Level<string, unknown>
  private readonly torrents
  private readonly resume

  constructor (path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: 'json' })
    this.torrents = this.db.sublevel<string, TorrentRecord>('torrents', { valueEncoding: 'json' })
    this.resume = this.db.sublevel<string, ResumeRecord>('resume', { valueEncoding: 'json' })
  }

  async open (): Promise<void> {
    try {
      await this.db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new BidtorrentError('ELOCKED', 'another bidtorrent daemon is already using this data directory')
      }
      throw err
    }
  }

  async close (): Promise<void> {
    await this.db.close()
  }

  async allTorrents (): Promise<TorrentRecord[]> {
    return this.torrents.values().all()
  }

  async putTorrent (record: TorrentRecord): Promise<void> {
    await this.db.batch([{ type: 'put', key: record.infoHash, value: record, sublevel: this.torrents }], { sync: true })
  }

  async getTorrent (infoHash: string): Promise<TorrentRecord | undefined> {
    return this.torrents.get(infoHash)
  }

  async deleteTorrent (infoHash: string): Promise<void> {
    await this.db.batch([
      { type: 'del', key: infoHash, sublevel: this.torrents },
      { type: 'del', key: infoHash, sublevel: this.resume }
    ], { sync: true })
  }

  async getResume (infoHash: string): Promise<ResumeRecord | undefined> {
    return this.resume.get(infoHash)
  }

  async putResume (infoHash: string, record: ResumeRecord): Promise<void> {
    await this.db.batch([{ type: 'put', key: infoHash, value: record, sublevel: this.resume }], { sync: true })
  }
}
