import { readFile } from 'node:fs/promises'
import { waitFor } from '../../testkit/process.js'
import { CleanupStack } from '../lib/cleanup.js'
import { rssAnonBytes } from '../lib/proc.js'
import { startCheckedSeeder, syntheticPeer } from '../lib/synthetic.js'

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
    const { daemon: seeder, torrent, pid } = await startCheckedSeeder(cleanup, await readFile(torrentFile), dataDir,
      { BIDTORRENT_MAX_PEERS_PER_TORRENT: String(count + 50), BIDTORRENT_RECHOKE_INTERVAL_SECONDS: '1' })
    const before = await rssAnonBytes(pid)
    const pieceCount = torrent.pieceCount!
    for (let i = 0; i < count; i++) {
      const { wire, socket } = syntheticPeer(cleanup, seeder.peerPort, torrent.infoHash)
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
