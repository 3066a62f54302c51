import { stat } from 'node:fs/promises'
import createTorrent from 'create-torrent'
import { InvalidTorrentError, errorMessage } from '../util/errors.js'
import { parseTorrentFile, type TorrentMeta } from './metainfo.js'

export interface CreateOptions {
  readonly trackers?: readonly string[]
  readonly pieceLength?: number
  readonly private?: boolean
  readonly comment?: string
}

/** Makes a torrent of a file or folder (hashing it all), returning its metadata. */
export async function createTorrentFrom (path: string, options: CreateOptions = {}): Promise<TorrentMeta> {
  const info = await stat(path).catch(() => null)
  if (!info) throw new InvalidTorrentError(`cannot seed ${path}: no such file or folder`)
  const trackers = options.trackers ?? []
  const torrentFile = await new Promise<Uint8Array>((resolve, reject) => {
    createTorrent(path, {
      createdBy: 'bidtorrent/0.1.0',
      announceList: trackers.map((url) => [url]),
      // An empty announce list must stay empty: create-torrent otherwise adds public trackers.
      announce: [...trackers],
      urlList: [],
      ...(options.pieceLength ? { pieceLength: options.pieceLength } : {}),
      ...(options.private ? { private: true } : {}),
      ...(options.comment ? { comment: options.comment } : {})
    }, (err, torrent) => (err ? reject(new InvalidTorrentError(`cannot create a torrent of ${path}: ${errorMessage(err)}`)) : resolve(torrent)))
  })
  return parseTorrentFile(torrentFile)
}
