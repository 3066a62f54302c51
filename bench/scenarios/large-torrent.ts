import { randomBytes } from 'node:crypto'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTorrentFrom } from '../../src/engine/create.js'
import { CleanupStack } from '../lib/cleanup.js'
import { MemorySampler, rssAnonBytes } from '../lib/proc.js'
import { startCheckedSeeder, syntheticPeer } from '../lib/synthetic.js'

const MiB = 1024 * 1024
const BLOCK = 16 * 1024

export interface LargeTorrentResult {
  readonly bytes: number
  readonly peers: number
  readonly seconds: number
  readonly seederRssAnonIdle: number
  readonly seederPeakRssAnon: number
  readonly bytesServed: number
}

/**
 * A file of `bytes` (a random 1 MiB block stamped with each piece's index, so every piece hashes
 * differently yet the file writes at disk speed), seeded by bidtorrent to `peers` real TCP peers that
 * keep requests in flight for random blocks across the whole torrent for `seconds`. The same load at
 * every size shows whether the seeder's memory grows with the torrent.
 */
export async function runLargeTorrent (bytes: number, peers: number, seconds: number): Promise<LargeTorrentResult> {
  const cleanup = new CleanupStack()
  try {
    const work = await mkdtemp(join(tmpdir(), 'bidtorrent-bench-large-'))
    cleanup.teardown(() => rm(work, { recursive: true, force: true }))
    const path = join(work, 'large.bin')
    const block = randomBytes(MiB)
    const file = await open(path, 'w')
    try {
      for (let offset = 0, index = 0; offset < bytes; offset += MiB, index++) {
        block.writeUInt32BE(index, 0)
        await file.write(block, 0, Math.min(MiB, bytes - offset), offset)
      }
    } finally {
      await file.close()
    }
    const meta = await createTorrentFrom(path, { pieceLength: MiB })
    const { daemon: seeder, torrent, pid } = await startCheckedSeeder(cleanup, meta.torrentFile, work)
    const idle = await rssAnonBytes(pid)
    const memory = new MemorySampler([pid]).start()

    let served = 0
    const deadline = Date.now() + seconds * 1000
    for (let i = 0; i < peers; i++) {
      const { wire, socket } = syntheticPeer(cleanup, seeder.peerPort, torrent.infoHash)
      // Like a leecher: a random piece (anywhere in the torrent), all of its blocks, then another.
      const fetchPiece = (): void => {
        if (wire.peerChoking || socket.destroyed || Date.now() > deadline) return
        const index = Math.floor(Math.random() * meta.pieceCount)
        const pieceBytes = index === meta.pieceCount - 1 ? meta.length - index * meta.pieceLength : meta.pieceLength
        let pending = 0
        for (let offset = 0; offset < pieceBytes; offset += BLOCK) {
          pending++
          wire.request(index, offset, Math.min(BLOCK, pieceBytes - offset), (err) => {
            if (!err) served += BLOCK
            if (--pending === 0) fetchPiece()
          })
        }
      }
      wire.on('unchoke', () => { fetchPiece(); fetchPiece() })
    }
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    const peak = memory.stop().get(pid) ?? 0
    return { bytes, peers, seconds, seederRssAnonIdle: idle, seederPeakRssAnon: peak, bytesServed: served }
  } finally {
    await cleanup.run()
  }
}
