import BitField from 'bitfield'
import type { TorrentMeta } from '../engine/metainfo.js'
import type { StateStore, TorrentRecord } from './store.js'

/** Changes a stored torrent's record; one removed meanwhile stays removed. */
export async function updateRecord (store: StateStore, infoHash: string, changes: Partial<TorrentRecord>): Promise<void> {
  const record = await store.getTorrent(infoHash)
  if (record) await store.putTorrent({ ...record, ...changes })
}

/** Pieces named by either record (base64 bitfields of one torrent), or undefined if neither exists. */
export function orBitfields (...records: Array<{ bitfield: string } | undefined>): Buffer | undefined {
  const fields = records.filter((record): record is { bitfield: string } => record !== undefined).map((record) => Buffer.from(record.bitfield, 'base64'))
  if (fields.length === 0) return undefined
  const union = Buffer.alloc(Math.max(...fields.map((field) => field.length)))
  for (const field of fields) for (let i = 0; i < field.length; i++) union[i]! |= field[i]!
  return union
}

/** Every piece of a torrent, as a bitfield. */
export function allPieces (meta: TorrentMeta): Buffer {
  const bits = new BitField(meta.pieceCount)
  for (let i = 0; i < meta.pieceCount; i++) bits.set(i, true)
  return Buffer.from(bits.buffer)
}
