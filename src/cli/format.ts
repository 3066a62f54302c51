import type { PeerInfo } from '../engine/torrent.js'
import type { TorrentView, VoucherTotals } from '../daemon/service.js'
import { formatBtt, formatPrice, formatQuote, quoteFromText } from '../market/price.js'
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
  if (torrent.market) {
    lines.push(`bid:         ${formatQuote(quoteFromText(torrent.market.bid))}, budget ${formatBtt(BigInt(torrent.market.budget))}, spent ${formatBtt(BigInt(torrent.market.spent))}`)
    lines.push(`floor:       ${formatPrice(BigInt(torrent.market.floor))} (in force now)`)
  }
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
    peer.client,
    ...(peer.market?.speaksMarket ? [marketColumns(peer.market)] : [])
  ].join('  ')
}

function marketColumns (market: NonNullable<PeerInfo['market']>): string {
  const parts = []
  if (market.theirBid !== '0') parts.push(`bids ${formatPrice(BigInt(market.theirBid))} rank ${market.rank || '-'} pays ${formatPrice(BigInt(market.rateToThem))}, owes ${formatBtt(BigInt(market.owedByThem))} paid ${formatBtt(BigInt(market.receivedFromThem))}`)
  if (market.rateFromThem !== '0' || market.paidToThem !== '0') parts.push(`charges ${formatPrice(BigInt(market.rateFromThem))}, owed ${formatBtt(BigInt(market.owedToThem))} paid ${formatBtt(BigInt(market.paidToThem))}`)
  return parts.length ? `[${parts.join('; ')}]` : '[market]'
}

export function voucherTotals (totals: VoucherTotals, verb: string): string {
  if (totals.torrents.length === 0) return `nothing ${verb} peers yet`
  const lines = [`total ${verb} peers: ${formatBtt(BigInt(totals.total))}`]
  for (const torrent of totals.torrents) {
    lines.push(`${torrent.infoHash}  ${formatBtt(BigInt(torrent.total))}`)
    for (const peer of torrent.peers) lines.push(`  ${peer.wallet}  ${formatBtt(BigInt(peer.amount))}  (${peer.vouchers} vouchers)`)
  }
  return lines.join('\n')
}
