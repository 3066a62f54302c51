import type { PeerInfo, SellerBidView, TorrentView, VoucherTotals } from '../api/types.js'
import { formatQuote, isUsd, quoteFromText, readableBtt, readablePrice } from '../money/price.js'
import { formatBytes, formatDuration, formatRate } from '../util/units.js'

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
    torrent.name,
    ...(torrent.labels.length > 0 ? [`[${torrent.labels.join(', ')}]`] : [])
  ].join('  ')
}

export function torrentDetails (torrent: TorrentView & { peerList?: PeerInfo[] }): string {
  const lines = [
    `name:        ${torrent.name}`,
    `info hash:   ${torrent.infoHash}`,
    ...(torrent.infoHashV2 ? [`v2 hash:     ${torrent.infoHashV2}`] : []),
    ...(torrent.version ? [`version:     ${torrent.version}`] : []),
    `state:       ${torrent.state}${torrent.error ? ` (${torrent.error})` : ''}${torrent.seedLimits.stoppedBy ? ` (${torrent.seedLimits.stoppedBy})` : ''}`,
    `progress:    ${percent(torrent.progress)} (${torrent.verifiedPieces}/${torrent.pieceCount ?? '?'} pieces verified)`,
    `size:        ${torrent.length === null ? 'unknown until metadata arrives' : formatBytes(torrent.length)}${torrent.wantedLength !== null && torrent.files.some((file) => file.priority === 'skip') ? ` (${formatBytes(torrent.wantedLength)} of it chosen, ${formatBytes(torrent.wantedVerified)} verified)` : ''}`,
    `directory:   ${torrent.directory}`,
    `downloaded:  ${formatBytes(torrent.downloaded)}  (${formatRate(torrent.downloadRate)})${torrent.webSeeds.length > 0 ? `: ${formatBytes(torrent.downloadedFromPeers)} from peers, ${formatBytes(torrent.downloadedFromWebSeeds)} from web seeds` : ''}`,
    `uploaded:    ${formatBytes(torrent.uploaded)}  (${formatRate(torrent.uploadRate)})`,
    `limits:      up ${torrent.uploadLimit ? formatRate(torrent.uploadLimit) : 'unlimited'}, down ${torrent.downloadLimit ? formatRate(torrent.downloadLimit) : 'unlimited'}`,
    `seeding:     ${seedLimitsLine(torrent)}`,
    ...(torrent.labels.length > 0 ? [`labels:      ${torrent.labels.join(', ')}`] : []),
    `peers:       ${torrent.peers} (${torrent.seeds} seeds), ${torrent.knownPeers} known`,
    `hash fails:  ${torrent.hashFailures}${torrent.bannedPeers.length ? `, banned: ${torrent.bannedPeers.join(', ')}` : ''}`,
    `magnet:      ${torrent.magnet}`
  ]
  const market = torrent.market
  if (market) {
    const bid = quoteFromText(market.bid)
    lines.push(`bid:         ${formatQuote(bid) === '0 BTT/MiB' ? 'none' : formatQuote(bid)}, budget ${readableBtt(BigInt(market.budget))}`)
    lines.push(`paid:        ${paidLine(market)}`)
    if (market.autoBid) lines.push(`auto-bid:    ${market.autoBid.bid === '0' ? 'not bidding' : readablePrice(BigInt(market.autoBid.bid))}${market.autoBid.target > 0 ? `, target ${formatRate(market.autoBid.target)}` : ''}: ${market.autoBid.reason}`)
    lines.push(`floor:       ${market.floor === '0' ? 'none: this torrent sells nothing' : `${readablePrice(BigInt(market.floor))} (in force now)`}`)
    if (market.sellers.length > 0) {
      lines.push('sellers:')
      for (const seller of market.sellers) lines.push(`  ${sellerLine(seller)}`)
    }
    if (market.notices.length > 0) {
      lines.push('warnings:')
      for (const notice of market.notices) lines.push(`  ${notice.at}  ${notice.message}`)
    }
  }
  if (torrent.files.length > 0) lines.push('files:', ...fileLines(torrent).map((line) => `  ${line}`))
  if (torrent.webSeeds.length > 0) {
    lines.push('web seeds:')
    for (const seed of torrent.webSeeds) lines.push(`  ${webSeedLine(seed)}`)
  }
  if (torrent.peerList && torrent.peerList.length > 0) {
    lines.push('peers:')
    for (const peer of torrent.peerList) lines.push(`  ${peerLine(peer)}`)
  }
  if (torrent.unreachablePeers.length > 0) {
    lines.push('not reached:')
    for (const peer of torrent.unreachablePeers) lines.push(`  ${unreachableLine(peer)}`)
  }
  return lines.join('\n')
}

/** A torrent's seed limits in force, whose they are, and its ratio now. */
export function seedLimitsLine (torrent: Pick<TorrentView, 'seedLimits'>): string {
  const { ratio, idle, ratioLimit, idleLimitSeconds, action, ratioNow } = torrent.seedLimits
  const whose = (choice: typeof ratio): string => (choice === 'global' ? ' (the daemon\'s)' : '')
  const ratioText = ratioLimit === null ? 'no ratio limit' : `ratio limit ${ratioLimit.toFixed(2)}${whose(ratio)}`
  const idleText = idleLimitSeconds === null ? 'no idle limit' : `idle limit ${formatDuration(idleLimitSeconds)}${whose(idle)}`
  const then = ratioLimit !== null || idleLimitSeconds !== null ? `, then ${action}` : ''
  return `ratio ${ratioNow.toFixed(2)}; ${ratioText}, ${idleText}${then}`
}

/** One line a file: its number (for --only and --skip), priority, bytes verified of its size, path. */
export function fileLines (torrent: Pick<TorrentView, 'files'>): string[] {
  const width = String(torrent.files.length - 1).length
  return torrent.files.map((file) => {
    const done = file.length > 0 ? file.verified / file.length : 1
    return `${String(file.index).padStart(width)}  ${file.priority.padEnd(6)}  ${percent(done).padStart(6)}  ${formatBytes(file.length).padStart(10)}  ${file.path}`
  })
}

/** What a torrent's market says after `add`, `seed`, `bid` or `floor`: the bid, budget, paid and floor. */
export function marketSummary (torrent: TorrentView): string {
  const market = torrent.market
  if (!market) return ''
  const bid = quoteFromText(market.bid)
  const parts = [
    `bid ${(isUsd(bid) ? bid.usdPerMiB : bid) === 0n ? 'none' : formatQuote(bid)}`,
    `budget ${readableBtt(BigInt(market.budget))}`,
    `paid ${paidLine(market)}`,
    `floor ${market.floor === '0' ? 'none (sells nothing)' : readablePrice(BigInt(market.floor))}`
  ]
  return parts.join(', ')
}

/** `1,234.5 BTT (+ 12 BTT signed, not confirmed by the seller)`. */
export function paidLine (market: { paid: string, signedNotAccepted: string }): string {
  const unconfirmed = BigInt(market.signedNotAccepted)
  return `${readableBtt(BigInt(market.paid))}${unconfirmed > 0n ? ` (+ ${readableBtt(unconfirmed)} signed, not confirmed by the seller)` : ''}`
}

const BID_STATES: Record<SellerBidView['state'], string> = {
  winning: 'winning a paid slot',
  outbid: 'outbid',
  pending: 'bid sent, not ranked yet',
  'below-floor': 'below the floor',
  refused: 'refused',
  unfunded: 'unfunded',
  'limit-reached': 'limit reached',
  'budget-spent': 'budget spent',
  'not-bidding': 'not bidding'
}

/** One seller as a bidder sees it: the bid's state, the rate it pays, what it paid. */
export function sellerLine (seller: SellerBidView): string {
  const state = seller.state === 'winning'
    ? `${BID_STATES.winning} at ${readablePrice(BigInt(seller.rate))} (rank ${seller.rank} of ${seller.paidSlots})`
    : BID_STATES[seller.state]
  const unconfirmed = BigInt(seller.signedNotAccepted)
  return [
    seller.address.padEnd(22),
    `${seller.wallet.slice(0, 10)}…`,
    `${state}${seller.reason ? `: ${seller.reason}` : ''}`,
    `paid ${readableBtt(BigInt(seller.paid))}${unconfirmed > 0n ? ` (+ ${readableBtt(unconfirmed)} not confirmed)` : ''}`
  ].join('  ')
}

/** `10.0.0.2:51413  3 calls  retry in 12 s  tcp: connection refused`. */
export function unreachableLine (peer: TorrentView['unreachablePeers'][number]): string {
  const retry = peer.retryAt <= Date.now() ? 'calling again' : `retry in ${Math.ceil((peer.retryAt - Date.now()) / 1000)} s`
  return [peer.address.padEnd(22), `${peer.failures} call${peer.failures === 1 ? '' : 's'}`, retry, peer.reason].join('  ')
}

export function peerLine (peer: PeerInfo): string {
  const flags = `${peer.amChoking ? 'c' : 'U'}${peer.peerInterested ? 'i' : '-'}${peer.peerChoking ? 'C' : 'u'}${peer.amInterested ? 'I' : '-'}`
  return [
    peer.address.padEnd(22),
    `${peer.transport}${peer.encryption === 'rc4' ? '+rc4' : peer.encryption === 'handshake' ? '+mse' : ''}`.padEnd(7),
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
  if (market.theirBid !== '0') parts.push(`bids ${readablePrice(BigInt(market.theirBid))} rank ${market.rank || '-'} pays ${readablePrice(BigInt(market.rateToThem))}, owes ${readableBtt(BigInt(market.owedByThem))} paid ${readableBtt(BigInt(market.receivedFromThem))}`)
  const unconfirmed = BigInt(market.signedNotAcceptedToThem)
  if (market.rateFromThem !== '0' || market.paidToThem !== '0' || unconfirmed > 0n) {
    parts.push(`charges ${readablePrice(BigInt(market.rateFromThem))}, owed ${readableBtt(BigInt(market.owedToThem))} paid ${readableBtt(BigInt(market.paidToThem))}${unconfirmed > 0n ? ` (+ ${readableBtt(unconfirmed)} not confirmed)` : ''}`)
  }
  return parts.length ? `[${parts.join('; ')}]` : '[market]'
}

export function voucherTotals (totals: VoucherTotals, verb: string): string {
  if (totals.torrents.length === 0) return `nothing ${verb} peers yet`
  const unconfirmed = BigInt(totals.signedNotAccepted ?? '0')
  const lines = [`total ${verb} peers: ${readableBtt(BigInt(totals.total))}${unconfirmed > 0n ? ` (+ ${readableBtt(unconfirmed)} signed, not confirmed by the sellers)` : ''}`]
  for (const torrent of totals.torrents) {
    lines.push(`${torrent.infoHash}  ${readableBtt(BigInt(torrent.total))}`)
    for (const peer of torrent.peers) {
      const notAccepted = BigInt(peer.signedNotAccepted ?? '0')
      lines.push(`  ${peer.wallet}  ${readableBtt(BigInt(peer.amount))}  (${peer.vouchers} vouchers${notAccepted > 0n ? `; + ${readableBtt(notAccepted)} signed, not confirmed` : ''})`)
    }
  }
  return lines.join('\n')
}

/** `daemon status` for people: nested values on their own lines, memory in MiB. */
export function statusLines (status: object, indent = ''): string[] {
  const lines: string[] = []
  for (const [key, value] of Object.entries(status)) {
    if (key === 'memory' && value && typeof value === 'object') {
      lines.push(`${indent}${key}: ${Object.entries(value as Record<string, number>).map(([part, bytes]) => `${part} ${formatBytes(bytes)}`).join(', ')}`)
    } else if (Array.isArray(value)) {
      lines.push(`${indent}${key}:${value.length === 0 ? ' none' : ''}`)
      for (const item of value) lines.push(item && typeof item === 'object' ? `${indent}  - ${Object.values(item as Record<string, unknown>).map(String).join('  ')}` : `${indent}  - ${String(item)}`)
    } else if (value && typeof value === 'object') {
      lines.push(`${indent}${key}:`, ...statusLines(value, `${indent}  `))
    } else {
      lines.push(`${indent}${key}: ${value === null ? '-' : String(value)}`)
    }
  }
  return lines
}

/** One web seed in `info`: its state, bytes and errors, and why it is not used or backing off. */
function webSeedLine (seed: TorrentView['webSeeds'][number]): string {
  const retry = seed.retryAt !== null ? `, retry in ${Math.max(0, Math.ceil((seed.retryAt - Date.now()) / 1000))} s` : ''
  const error = seed.lastError !== null ? `: ${seed.lastError}` : ''
  return `${seed.state.padEnd(11)} ${formatBytes(seed.downloaded).padStart(10)}  ${seed.errors} errors${retry}  ${seed.url}${error}`
}
