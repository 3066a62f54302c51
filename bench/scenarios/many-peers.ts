import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import Wire from 'bittorrent-protocol'
import type { TorrentView } from '../../src/daemon/service.js'
import { startDaemon } from '../../test/helpers/daemon.js'
import { waitFor } from '../../test/helpers/process.js'
import { CleanupStack } from '../lib/cleanup.js'
import { rssAnonBytes } from '../lib/proc.js'

export interface ManyPeersResult {
  readonly peers: number
  /** Elapsed time of each sampled rechoke (snapshots, choker, applying it), microseconds. */
  readonly rechokeMicros: readonly number[]
  readonly seederRssAnonBefore: number
  readonly seederRssAnonAfter: number
  readonly bytesPerConnection: number
}

/**
 * One bidtorrent seeder, `count` real TCP peers on 127.0.0.1, all interested; the unchoked ones
 * keep asking for blocks, so rates differ. Rechokes run every second to give several samples.
 */
export async function runManyPeers (torrentFile: string, dataDir: string, count: number): Promise<ManyPeersResult> {
  const cleanup = new CleanupStack()
  try {
    const seeder = await startDaemon(cleanup, {
      args: ['--log-level', 'warn'],
      env: { BIDTORRENT_MAX_PEERS_PER_TORRENT: String(count + 50), BIDTORRENT_RECHOKE_INTERVAL_SECONDS: '1' }
    })
    const torrent = await seeder.api.request<TorrentView>('POST', '/v1/torrents', { torrent: (await readFile(torrentFile)).toString('base64'), directory: dataDir })
    await waitFor('the seeder to check its data', async () => ((await seeder.torrent(torrent.infoHash)).state === 'seeding' ? true : undefined), 600_000)
    const { pid } = await seeder.api.request<{ pid: number }>('GET', '/v1/status')
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const before = await rssAnonBytes(pid)

    const sockets: Socket[] = []
    cleanup.teardown(() => { for (const socket of sockets) socket.destroy() })
    const pieceCount = torrent.pieceCount!
    for (let i = 0; i < count; i++) {
      const socket = connect({ host: '127.0.0.1', port: seeder.peerPort })
      socket.on('error', () => {})
      sockets.push(socket)
      const wire = new Wire()
      socket.pipe(wire).pipe(socket)
      wire.on('error', () => socket.destroy())
      wire.handshake(torrent.infoHash, randomBytes(20), { fast: true })
      wire.on('handshake', () => wire.interested())
      const ask = (): void => {
        if (wire.peerChoking || socket.destroyed) return
        wire.request(Math.floor(Math.random() * pieceCount), 0, 16_384, () => setTimeout(ask, 200 + (i % 10) * 50))
      }
      wire.on('unchoke', ask)
    }
    await waitFor(`${count} peers to be connected`, async () => ((await seeder.torrent(torrent.infoHash)).peers >= count ? true : undefined), 120_000, 250)

    const rechokeMicros: number[] = []
    for (let sample = 0; sample < 8; sample++) {
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const status = await seeder.torrent(torrent.infoHash)
      if (status.lastRechokeMicros !== null) rechokeMicros.push(status.lastRechokeMicros)
    }
    const after = await rssAnonBytes(pid)
    return { peers: count, rechokeMicros, seederRssAnonBefore: before, seederRssAnonAfter: after, bytesPerConnection: (after - before) / count }
  } finally {
    await cleanup.run()
  }
}
