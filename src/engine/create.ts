import { Worker } from 'node:worker_threads'
import { BidtorrentError, InvalidTorrentError } from '../util/errors.js'
import type { CreateJob, CreateResult } from './create-worker.js'
import { parseTorrentFile, type TorrentMeta } from './metainfo.js'

export interface CreateOptions {
  readonly trackers?: readonly string[]
  readonly pieceLength?: number
  readonly private?: boolean
  readonly comment?: string
}

const WORKER_URL = new URL('./create-worker.js', import.meta.url)

/**
 * Makes a torrent of a file or folder (hashing it all, in a worker thread), returning its
 * metadata. `signal` stops the thread at once. Check the path first (seed-path.ts): create-torrent
 * walks whatever it is given.
 */
export async function createTorrentFrom (path: string, options: CreateOptions = {}, signal?: AbortSignal): Promise<TorrentMeta> {
  signal?.throwIfAborted()
  const trackers = options.trackers ?? []
  const job: CreateJob = {
    path,
    options: {
      createdBy: 'bidtorrent/0.1.0',
      announceList: trackers.map((url) => [url]),
      // An empty announce list must stay empty: create-torrent otherwise adds public trackers.
      announce: [...trackers],
      urlList: [],
      ...(options.pieceLength ? { pieceLength: options.pieceLength } : {}),
      ...(options.private ? { private: true } : {}),
      ...(options.comment ? { comment: options.comment } : {})
    }
  }
  // No inherited Node flags: a test runner's loader has no business in this thread.
  const worker = new Worker(WORKER_URL, { workerData: job, execArgv: [] })
  const torrentFile = await new Promise<Uint8Array>((resolve, reject) => {
    const stop = (): void => {
      void worker.terminate()
      reject(new BidtorrentError('ECANCELLED', `making the torrent of ${path} was cancelled`))
    }
    signal?.addEventListener('abort', stop, { once: true })
    worker.once('message', (result: CreateResult) => {
      signal?.removeEventListener('abort', stop)
      if ('error' in result) reject(new InvalidTorrentError(`cannot create a torrent of ${path}: ${result.error}`))
      else resolve(result.torrent)
      void worker.terminate()
    })
    worker.once('error', (err) => {
      signal?.removeEventListener('abort', stop)
      reject(new InvalidTorrentError(`cannot create a torrent of ${path}: ${err.message}`))
    })
  })
  return parseTorrentFile(Buffer.from(torrentFile))
}
