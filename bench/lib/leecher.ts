import { readFile } from 'node:fs/promises'
import type { TorrentView } from '../../src/api/types.js'
import type { RunningDaemon } from '../../testkit/daemon.js'
import { waitFor } from '../../testkit/process.js'

/**
 * Adds a .torrent to a bidtorrent daemon, pointed at `peers`, and waits for its last verified piece.
 * `extra` joins the add request (a bid and a budget, say); `onStatus` sees every poll.
 */
export async function downloadWith (daemon: RunningDaemon, torrentFile: string, directory: string, peers: readonly string[],
  extra: Record<string, unknown> = {}, onStatus?: (status: TorrentView) => void): Promise<TorrentView> {
  const torrent = await daemon.api.request<TorrentView>('POST', '/v1/torrents', {
    torrent: (await readFile(torrentFile)).toString('base64'),
    directory,
    peers,
    ...extra
  })
  return waitFor('the bidtorrent leecher to finish', async () => {
    const status = await daemon.torrent(torrent.infoHash)
    onStatus?.(status)
    return status.completedAt !== null ? status : undefined
  }, 30 * 60_000, 100)
}
