import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import Wire from 'bittorrent-protocol'
import type { TorrentView } from '../../src/api/types.js'
import { startDaemon, type RunningDaemon } from '../../testkit/daemon.js'
import { waitFor, type Cleanup } from '../../testkit/process.js'

export interface CheckedSeeder {
  readonly daemon: RunningDaemon
  readonly torrent: TorrentView
  readonly pid: number
}

/** A bidtorrent daemon seeding `torrentFile` from `directory`, once it has checked the data and settled. */
export async function startCheckedSeeder (cleanup: Cleanup, torrentFile: Uint8Array, directory: string, env: NodeJS.ProcessEnv = {}): Promise<CheckedSeeder> {
  const daemon = await startDaemon(cleanup, { args: ['--log-level', 'warn'], env })
  const added = await daemon.api.request<TorrentView>('POST', '/v1/torrents', { torrent: Buffer.from(torrentFile).toString('base64'), directory })
  const torrent = await waitFor('the seeder to check its data', async () => {
    const status = await daemon.torrent(added.infoHash)
    return status.state === 'seeding' ? status : undefined
  }, 60 * 60_000, 500)
  const { pid } = await daemon.api.request<{ pid: number }>('GET', '/v1/status')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  return { daemon, torrent, pid }
}

/** A bare BitTorrent peer on 127.0.0.1 (bittorrent-protocol) that says it is interested; closed by `cleanup`. */
export function syntheticPeer (cleanup: Cleanup, port: number, infoHash: string): { wire: Wire; socket: Socket } {
  const socket = connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  cleanup.teardown(() => socket.destroy())
  const wire = new Wire()
  socket.pipe(wire).pipe(socket)
  wire.on('error', () => socket.destroy())
  wire.handshake(infoHash, randomBytes(20), { fast: true })
  wire.on('handshake', () => wire.interested())
  return { wire, socket }
}
