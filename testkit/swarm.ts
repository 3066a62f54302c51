import type { ExternalPeerStarter, TrackerStarter } from '../src/dev/swarm.js'
import { startLibtorrent, startOpentracker } from './clients.js'
import { stopProcess, type Cleanup } from './process.js'

/** Debian's opentracker as the swarm's tracker, on the port the swarm picked, serving its torrent only. */
export function opentrackerOn (t: Cleanup): TrackerStarter {
  return async (port, infoHash, directory) => {
    await startOpentracker(t, directory, [infoHash], port)
    // Stopped at teardown with the rest of the test's processes.
    return { close: async () => {} }
  }
}

/**
 * A real libtorrent peer at its default settings (but TCP only, on loopback, and with loopback
 * peers treated as internet peers: its upload capped, its unchoke slots counted), downloading
 * from the swarm's tracker and seeding on after it completes, as a free peer.
 */
export function libtorrentPeer (t: Cleanup, uploadLimit: number, name = 'libtorrent'): ExternalPeerStarter {
  return async (torrentFile, saveDirectory) => {
    const peer = await startLibtorrent(t, ['--mode', 'download', '--torrent', torrentFile, '--save', saveDirectory, '--upload-limit', String(uploadLimit), '--linger', '--timeout', '3600'])
    let done = false
    peer.done.then(() => { done = true }, () => {})
    return {
      name,
      status: () => {
        const last = [...peer.lines].reverse().find((line) => line.includes('"progress"'))
        const progress = last ? JSON.parse(last) as { progress: number, downloaded: number } : { progress: 0, downloaded: 0 }
        return { progress: done ? 1 : progress.progress, downloaded: progress.downloaded, done }
      },
      stop: () => stopProcess(peer.process)
    }
  }
}
