import t from 'tap'
import { builtInSettings } from '../src/config/settings.js'
import { runDemo } from '../src/dev/demo.js'
import { BYTES_PER_PRICE_UNIT, parseDecimal, parseQuote, usdToBtt } from '../src/money/price.js'
import { MiB } from '../testkit/market.js'
import { libtorrentPeer, opentrackerOn } from '../testkit/swarm.js'

const KiB = 1024

t.test('in a swarm that trades (opentracker, PEX on, capped uplinks, a libtorrent peer), the top bidder finishes before the median free peer, every free peer finishes, and every channel\'s books agree exactly', async (t) => {
  // A price a user compares with a CDN: 0.01 USD a GiB, at the BTT price the daemons run with.
  const usdPerBtt = parseDecimal(builtInSettings().usdPerBtt!)
  const floor = usdToBtt((parseQuote('0.01USD/GiB') as { usdPerMiB: bigint }).usdPerMiB, usdPerBtt)
  t.ok(floor > 10n ** 19n && floor < 10n ** 20n, `the floor is about 16 BTT a MiB (${floor} base units)`)
  const leecherUpload = 384 * KiB
  const summary = await runDemo({
    size: 24 * MiB,
    uploadLimit: 3 * MiB,
    leecherUploadLimit: leecherUpload,
    floor,
    bids: [0, 0, 1, 2, 4],
    tracker: opentrackerOn(t),
    externalPeers: [libtorrentPeer(t, leecherUpload)],
    timeoutSeconds: 600
  })
  const names = summary.peers.map((peer) => `${peer.name}: ${peer.completedAfter?.toFixed(1) ?? '-'} s`).join(', ')
  t.comment(`completion: ${names}; the top bidder ${summary.speedup?.toFixed(2)}x as fast as the median free peer; free class ${(summary.freeClassShareWhileContended * 100).toFixed(1)}% of the seeder's upload`)
  t.ok(summary.peers.every((peer) => peer.completedAfter !== null), 'every peer finished, the libtorrent peer and the free bidtorrent peers among them')
  t.ok(summary.peers.some((peer) => peer.kind === 'external'), 'a libtorrent peer took part')
  const top = summary.peers.find((peer) => peer.name === 'bid-4x')!
  const free = summary.peers.filter((peer) => peer.kind !== 'bidder').map((peer) => peer.completedAfter!).sort((a, b) => a - b)
  const medianFree = free[Math.floor(free.length / 2)]!
  t.ok(top.completedAfter! < medianFree, `the top bidder finished (${top.completedAfter} s) before the median free peer (${medianFree} s)`)
  t.equal(summary.channels.length, 3, 'a channel from each bidder to the seeder')
  for (const channel of summary.channels) {
    const bid = BigInt(summary.peers.find((peer) => peer.name === channel.payer)!.bid)
    const exact = (BigInt(channel.boughtBytes) * bid / BYTES_PER_PRICE_UNIT).toString()
    t.equal(channel.owedForVerified, exact, `${channel.payer}: owed = verified bytes bought x its rate`)
    t.equal(channel.paid, exact, `${channel.payer}: paid (confirmed by the seller) = verified bytes bought x its rate, exactly`)
    t.equal(channel.earned, channel.paid, `${channel.payer}: the seller earned exactly what the buyer paid`)
    t.equal(channel.signedNotAccepted, '0', `${channel.payer}: nothing signed is left unconfirmed`)
  }
})
