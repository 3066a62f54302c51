import type { SwarmHealthView, TorrentView } from './api-types.js'

const HOUR_MS = 3_600_000

/**
 * `GET /v1/torrents/:id/health` (and `bidtorrent health`): what a studio watches in a launch, from
 * the torrent's own figures: the swarm's copies, the full copies made, how much of the download the
 * swarm carried rather than the web seed (the offload it pays for), and what this daemon earned.
 */
export function swarmHealthView (torrent: TorrentView, now = Date.now()): SwarmHealthView {
  const { swarm } = torrent
  const fromOrigin = torrent.downloadedFromWebSeeds
  const fromPeers = torrent.downloadedFromPeers
  const earned = torrent.market?.trades.reduce((sum, trade) => sum + BigInt(trade.chargedToThem), 0n) ?? null
  const hours = Math.max(now - torrent.startedAt, 1) / HOUR_MS
  return {
    infoHash: torrent.infoHash,
    name: torrent.name,
    state: torrent.state,
    seeds: torrent.seeds,
    peers: torrent.peers,
    knownPeers: torrent.knownPeers,
    distributedCopies: swarm.distributedCopies,
    rarestPieceCopies: swarm.rarestPieceCopies,
    completions: swarm.completions,
    completionsLastHour: swarm.completionsLastHour,
    firstFullCopySeconds: swarm.firstFullCopyAt === null ? null : Math.max(0, (swarm.firstFullCopyAt - torrent.startedAt) / 1000),
    downloadedFromPeers: fromPeers,
    downloadedFromWebSeeds: fromOrigin,
    offloadRatio: fromPeers + fromOrigin > 0 ? fromPeers / (fromPeers + fromOrigin) : null,
    earnedThisRun: earned?.toString() ?? null,
    // Whole base units per hour: an estimate for a chart, not a figure of the books.
    earnedPerHour: earned === null ? null : (earned * 1000n / BigInt(Math.max(1, Math.round(hours * 1000)))).toString()
  }
}
