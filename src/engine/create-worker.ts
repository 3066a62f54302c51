import { parentPort, workerData } from 'node:worker_threads'
import createTorrent from 'create-torrent'

/** What the thread is asked to make: create-torrent's input and options, as createTorrentFrom passes them. */
export interface CreateJob {
  readonly path: string
  readonly options: Record<string, unknown>
}

export type CreateResult = { readonly torrent: Uint8Array } | { readonly error: string }

// create-torrent reads and hashes every byte: in a thread of its own, the daemon's event loop (its
// API, its peers) is not held up, and a job nobody waits for any more can be stopped outright.
const job = workerData as CreateJob
createTorrent(job.path, job.options, (err, torrent) => {
  const result: CreateResult = err ? { error: err instanceof Error ? err.message : String(err) } : { torrent }
  parentPort!.postMessage(result)
})
