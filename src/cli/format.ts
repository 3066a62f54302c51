import type { PeerInfo } from '../engine/torrent.js'
import type { TorrentView } from '../daemon/service.js'
import { formatBytes, formatRate } from '../util/units.js'

export function percent (fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`
}

export function torrentLine (torrent: TorrentView): string {
  const size = torrent.length === null ? '?' : formatBytes(torrent.length)
  return [
    torrent.infoHash.slice(0, 8),
    torrent.state.padEnd(11),
    percent(torrent.progress).padStart(6),
    size.padStart(10),
    `↓ ${formatRate(torrent.downloadRate)}`.padStart(14),
    `↑ ${formatRate(torrent.uploadRate)}`.padStart(14),
    `${torrent.peers} peers`.padStart(9),
    torrent.name
  ].join('  ')
}

export function torrentDetails (torrent: TorrentView & { peerList?: PeerInfo[] }): string {
  const lines = [
    `name:        ${torrent.name}`,
    `info hash:   ${torrent.infoHash}`,
    `state:       ${torrent.state}${torrent.error ? ` (${torrent.error})` : ''}`,
    `progress:    ${percent(torrent.progress)} (${torrent.verifiedPieces}/${torrent.pieceCount ?? '?'} pieces verified)`,
    `size:        ${torrent.length === null ? 'unknown until metadata arrives' : formatBytes(torrent.length)}`,
    `directory:   ${torrent.directory}`,
    `downloaded:  ${formatBytes(torrent.downloaded)}  (${formatRate(torrent.downloadRate)})`,
    `uploaded:    ${formatBytes(torrent.uploaded)}  (${formatRate(torrent.uploadRate)})`,
    `limits:      up ${torrent.uploadLimit ? formatRate(torrent.uploadLimit) : 'unlimited'}, down ${torrent.downloadLimit ? formatRate(torrent.downloadLimit) : 'unlimited'}`,
    `peers:       ${torrent.peers} (${torrent.seeds} seeds)`,
    `hash fails:  ${torrent.hashFailures}${torrent.bannedPeers.length ? `, banned: ${torrent.bannedPeers.join(', ')}` : ''}`,
    `magnet:      ${torrent.magnet}`
  ]
  if (torrent.files.length > 0) {
    lines.push('files:')
    for (const file of torrent.files) lines.push(`  ${formatBytes(file.length).padStart(10)}  ${file.path}`)
  }
  if (torrent.peerList && torrent.peerList.length > 0) {
    lines.push('peers:')
    for (const peer of torrent.peerList) lines.push(`  ${peerLine(peer)}`)
  }
  return lines.join('\n')
}

export function peerLine (peer: PeerInfo): string {
  const flags = `${peer.amChoking ? 'c' : 'U'}${peer.peerInterested ? 'i' : '-'}${peer.peerChoking ? 'C' : 'u'}${peer.amInterested ? 'I' : '-'}`
  return [
    peer.address.padEnd(22),
    flags,
    (peer.slot ?? '-').padEnd(10),
    percent(peer.progress).padStart(6),
    `↓ ${formatRate(peer.downloadRate)}`.padStart(14),
    `↑ ${formatRate(peer.uploadRate)}`.padStart(14),
    peer.client
  ].join('  ')
}
