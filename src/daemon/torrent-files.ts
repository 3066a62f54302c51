import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'winston'
import { applySelection, userFileIndexes, type FilePriority, type FileSelectionSpec } from '../engine/file-selection.js'
import type { TorrentMeta } from '../engine/metainfo.js'
import { UsageError, errorMessage } from '../util/errors.js'
import type { MarketTorrent as Torrent } from './market-engine.js'
import type { StateStore, TorrentRecord } from './store.js'
import { updateRecord } from './torrent-records.js'

/** The user's file paths, as `info` numbers them. */
function userPaths (meta: TorrentMeta): string[] {
  return userFileIndexes(meta).map((index) => meta.files[index]!.path)
}

/** The priorities a selection at `add` gives a torrent whose metadata is known (a usage error if it names no file). */
export function prioritiesAtAdd (meta: TorrentMeta, spec: FileSelectionSpec | undefined): FilePriority[] | undefined {
  return spec ? applySelection(userPaths(meta), undefined, spec) : undefined
}

/**
 * What the engine asks once a torrent's metadata is known: the stored priorities, or those of a
 * selection given with a magnet link (stored then; one that names no file of it is said and ignored).
 */
export function filesSelector (record: TorrentRecord, store: StateStore, log: Logger): (meta: TorrentMeta) => FilePriority[] | undefined {
  return (meta) => {
    if (record.filePriorities) return [...record.filePriorities]
    if (!record.fileSelection) return undefined
    try {
      const priorities = applySelection(userPaths(meta), undefined, record.fileSelection)
      void updateRecord(store, record.infoHash, { filePriorities: priorities })
        .catch((err: unknown) => log.error('cannot store the file selection', { infoHash: record.infoHash, error: errorMessage(err) }))
      return priorities
    } catch (err) {
      log.warn('the file selection given with the magnet link does not fit the torrent: every file is downloaded', { infoHash: record.infoHash, error: errorMessage(err) })
      return undefined
    }
  }
}

/** Applies a change of selection to a running torrent and stores the result (it survives a restart). */
export async function changeFiles (torrent: Torrent, store: StateStore, spec: FileSelectionSpec): Promise<void> {
  const { meta } = torrent
  if (!meta) throw new UsageError(`${torrent.name}: its files are known once its metadata arrives`)
  const current = torrent.status().files.map((file) => file.priority)
  const next = applySelection(userPaths(meta), current, spec)
  await torrent.setFilePriorities(next)
  await updateRecord(store, torrent.infoHash, { filePriorities: next })
}

/** Where a torrent's parts file lives: the daemon's state, never the user's folder. */
export function partsPathOf (partsDirectory: string, infoHash: string): string {
  return join(partsDirectory, `${infoHash}.parts`)
}

export async function removePartsFile (partsDirectory: string, infoHash: string): Promise<void> {
  await rm(partsPathOf(partsDirectory, infoHash), { force: true })
}
