import { setTimeout as sleep } from 'node:timers/promises'
import type { PeerInfo, TorrentView } from '../api/types.js'
import type { ChildDaemon } from './processes.js'
import type { DaemonPeer, ExternalRow, SwarmOptions, SwarmPeerRow } from './swarm-types.js'

/**
 * Watching a running swarm: every peer's row once a second, until all are done, and what is
 * measured while every peer still downloads (each one's share, the seeder's upload by slot kind).
 */

const POLL_MS = 1000

/** The seeder's upload by slot kind, from the change in each connection's upload between samples. */
export class SeederUploads {
  private readonly uploadedBefore = new Map<string, number>()
  private readonly byClass = { free: 0, paid: 0 }
  /** Counted from the first auction on: before the bids land, slots go by the usual reciprocity. */
  private auctionRan: boolean

  constructor (private readonly seeder: ChildDaemon, private readonly infoHash: string, selling: boolean) {
    this.auctionRan = !selling
  }

  async sample (): Promise<void> {
    const peers = await this.seeder.api.request<PeerInfo[]>('GET', `/v1/torrents/${this.infoHash}/peers`)
    const counting = this.auctionRan
    this.auctionRan ||= peers.some((peer) => peer.slot === 'paid')
    for (const peer of peers) {
      const sent = peer.uploaded - (this.uploadedBefore.get(peer.address) ?? 0)
      this.uploadedBefore.set(peer.address, peer.uploaded)
      if (!counting) continue
      if (peer.slot === 'paid') this.byClass.paid += sent
      else this.byClass.free += sent
    }
  }

  /** The free class's share of what was counted (1 when nothing was). */
  get freeShare (): number {
    const { free, paid } = this.byClass
    return free + paid > 0 ? free / (free + paid) : 1
  }
}

/** Every peer's state now; `elapsed` (seconds since the download started) marks those that just finished. */
export async function peerRows (leechers: readonly DaemonPeer[], externals: readonly ExternalRow[], infoHash: string, elapsed: number): Promise<SwarmPeerRow[]> {
  const rows = await Promise.all(leechers.map(async (peer): Promise<SwarmPeerRow> => {
    const view = await peer.daemon.api.request<TorrentView>('GET', `/v1/torrents/${infoHash}`)
    if (peer.completedAfter === null && view.pieceCount !== null && view.verifiedPieces === view.pieceCount) peer.completedAfter = elapsed
    return {
      name: peer.name,
      kind: peer.kind,
      bid: peer.bid.toString(),
      progress: view.progress,
      downloaded: view.downloaded,
      downloadRate: view.downloadRate,
      completedAfter: peer.completedAfter,
      paid: view.market?.paid ?? '0',
      signedNotAccepted: view.market?.signedNotAccepted ?? '0'
    }
  }))
  for (const row of externals) {
    const now = row.peer.status()
    row.rate = Math.max(0, now.downloaded - row.lastDownloaded) / (POLL_MS / 1000)
    row.lastDownloaded = now.downloaded
    if (row.completedAfter === null && now.done) row.completedAfter = elapsed
    rows.push({ name: row.peer.name, kind: 'external', bid: '0', progress: now.progress, downloaded: now.downloaded, downloadRate: row.rate, completedAfter: row.completedAfter, paid: '0', signedNotAccepted: '0' })
  }
  return rows
}

/**
 * Polls every peer until all are done, or throws past the deadline. While no peer is done yet the
 * swarm is contended: it samples the seeder's upload by slot kind, and returns each peer's share of
 * all bytes delivered then.
 */
export async function watchDownload (options: Pick<SwarmOptions, 'onProgress' | 'timeoutSeconds'>, readRows: () => Promise<SwarmPeerRow[]>, seederUploads: SeederUploads, startedAt: number, deadline: number): Promise<Record<string, number>> {
  let contended: Record<string, number> = {}
  for (;;) {
    const rows = await readRows()
    options.onProgress?.(rows, (Date.now() - startedAt) / 1000)
    if (rows.every((row) => row.completedAfter === null)) {
      await seederUploads.sample()
      const total = rows.reduce((sum, row) => sum + row.downloaded, 0)
      if (total > 0) contended = Object.fromEntries(rows.map((row) => [row.name, row.downloaded / total]))
    }
    if (rows.every((row) => row.completedAfter !== null)) return contended
    if (Date.now() > deadline) throw new Error(`the swarm did not finish within ${options.timeoutSeconds} s: ${rows.filter((row) => row.completedAfter === null).map((row) => `${row.name} at ${(row.progress * 100).toFixed(1)}%`).join(', ')}`)
    await sleep(POLL_MS)
  }
}
