import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { TorrentView } from '../src/api/types.js'
import { parseTorrentFile } from '../src/engine/metainfo.js'
import { BASE_UNITS_PER_BTT, BYTES_PER_PRICE_UNIT } from '../src/money/price.js'
import { seedFile, waitComplete } from '../testkit/daemon.js'
import { startEvilPeer } from '../testkit/evil-peer.js'
import { sameFiles } from '../testkit/fixture.js'
import { MiB, marketDaemon, totals } from '../testkit/market.js'
import { runCli, waitFor } from '../testkit/process.js'

const BID = 50n * BASE_UNITS_PER_BTT

t.test('a buyer that reaches the seller\'s credit cap (embedded) signs nothing above it, stops bidding there and says why; the books agree', async (t) => {
  // A cap worth 4 MiB at the bid, for a 12 MiB download from this seller alone.
  const cap = 4n * BID
  const seller = await marketDaemon(t, { env: { BIDTORRENT_EMBEDDED_CREDIT_CAP: cap.toString() } })
  const buyer = await marketDaemon(t)
  const { work, files, torrent } = await seedFile(t, seller.daemon, 'capped.bin', 12 * MiB, ['--floor', '20BTT/MiB', '--upload-limit', '2MiB/s'])
  const added = await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`,
    '--bid', '50BTT/MiB', '--budget', '100000BTT', '--data-dir', buyer.daemon.dataDir])
  t.equal(added.code, 0, added.stderr)
  const waited = await runCli(['wait', torrent.infoHash, '--data-dir', buyer.daemon.dataDir])
  t.equal(waited.code, 0, waited.stderr)
  t.match(waited.stderr, /warning: stopped bidding to a seller: the seller's credit cap of .* is reached/, '`wait` shows the user the warning')
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the download completes, the rest of it as a free peer')

  const view = await waitFor('the seller to confirm the last voucher', async () => {
    const found = await buyer.daemon.torrent(torrent.infoHash)
    return found.market?.signedNotAccepted === '0' && found.market.paid !== '0' ? found : undefined
  }, 60_000)
  const paid = BigInt(view.market!.paid)
  t.ok(paid <= cap, `what the buyer signed and paid (${paid}) is within the cap (${cap})`)
  t.equal(view.market!.committed, view.market!.paid, 'it never signed more than the seller accepted')
  const sellerView = view.market!.sellers.find((entry) => entry.wallet === seller.wallet)
  t.equal(sellerView?.state, 'limit-reached', 'the bid\'s state says the limit is reached')
  t.match(sellerView?.reason ?? '', /credit cap/)
  t.equal(sellerView?.limit, cap.toString(), 'the seller announced its cap')
  t.equal((await totals(seller.daemon, 'earnings')).total, paid.toString(), 'the seller earned exactly what the buyer paid')
  t.notMatch(seller.daemon.logs(), /refused a voucher/, 'the seller never had to refuse a voucher')
  const info = await runCli(['info', torrent.infoHash, '--data-dir', buyer.daemon.dataDir])
  t.match(info.stdout, /limit reached: the seller's credit cap/, '`info` shows the bid\'s state')
  t.match(info.stdout, /warnings:\n.*stopped bidding/, '`info` lists the warning')
})

t.test('a seller that refuses every voucher: the buyer signs again from what it holds, never counts a refused voucher as paid, then stops paying it and says so', async (t) => {
  const seeder = await marketDaemon(t)
  const { work, files, torrentFile, torrent: { infoHash } } = await seedFile(t, seeder.daemon, 'refused.bin', 8 * MiB, ['--upload-limit', '1MiB/s'])
  const meta = await parseTorrentFile(await readFile(torrentFile))
  const refuser = await startEvilPeer(meta, join(work, 'source'), { delivery: 'honest', marketFloor: 1000n, refuseVouchers: 'stale-nonce' })
  t.teardown(() => refuser.close())
  const buyer = await marketDaemon(t)
  const added = await runCli(['add', torrentFile, '--out', join(work, 'out'), '--bid', '50BTT/MiB', '--budget', '100000BTT', '--data-dir', buyer.daemon.dataDir,
    '--peer', `127.0.0.1:${refuser.port}`])
  t.equal(added.code, 0, added.stderr)
  const stopped = await waitFor('the buyer to stop paying the refusing seller', async () => {
    const view = await buyer.daemon.torrent(infoHash)
    const state = view.market?.sellers.find((entry) => entry.wallet === refuser.wallet.address)
    return state?.state === 'refused' ? { view, state } : undefined
  }, 120_000)
  t.match(stopped.state.reason ?? '', /refuses our vouchers \(stale-nonce/, 'with the reason the seller gave')
  t.ok(stopped.view.market!.notices.some((notice) => /stopped bidding to a seller: it refuses our vouchers/.test(notice.message)), 'and a warning for the user')
  const spending = await totals(buyer.daemon, 'spending')
  t.equal(spending.total, '0', 'nothing the seller refused counts as paid')
  t.ok(BigInt(spending.signedNotAccepted ?? '0') > 0n, `what was signed shows apart, as signed and not accepted (${spending.signedNotAccepted})`)
  t.equal(stopped.view.market!.paid, '0', 'the torrent\'s view agrees')
  const vouchers = refuser.inbox.all().filter((message) => message.type === 'voucher').length
  t.ok(vouchers <= 5, `the buyer stopped signing after a few refusals (${vouchers} vouchers)`)
  const resigned = refuser.inbox.all().filter((message) => message.type === 'voucher').map((message) => (message as { nonce: number }).nonce)
  t.ok(resigned.length >= 2, `after a refusal it signed again (nonces ${resigned.join(', ')})`)

  // The rest comes free from the refusing seller, and from the honest seeder.
  await buyer.daemon.api.request('POST', `/v1/torrents/${infoHash}/peers`, { peers: [`127.0.0.1:${seeder.daemon.peerPort}`] })
  await waitComplete(buyer.daemon, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the download completes')
  const after = refuser.inbox.all().filter((message) => message.type === 'voucher').length
  t.equal(after, vouchers, 'no voucher went to the refusing seller once the buyer stopped paying it')
})

t.test('an owed amount is paid exactly at the bid, for every verified byte, with one bidder (pay-as-bid)', async (t) => {
  const seller = await marketDaemon(t)
  const buyer = await marketDaemon(t)
  const size = 6 * MiB + 999
  const { work, torrent } = await seedFile(t, seller.daemon, 'exact.bin', size, ['--floor', '0.01USD/GiB'])
  const added = await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`,
    '--bid', '0.05USD/GiB', '--budget', '0.10USD', '--data-dir', buyer.daemon.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  const addedView = JSON.parse(added.stdout) as TorrentView
  t.equal(addedView.market?.budget, (BigInt(1e17) * BASE_UNITS_PER_BTT / 600_000_000_000n).toString(), 'a 0.10 USD budget is held in BTT at the BTT price (166,666.67 BTT)')
  await waitComplete(buyer.daemon, torrent.infoHash)
  const view = await waitFor('the seller to confirm the last voucher', async () => {
    const found = await buyer.daemon.torrent(torrent.infoHash)
    const trade = found.market?.trades.find((entry) => entry.wallet === seller.wallet)
    return trade && found.market?.signedNotAccepted === '0' && found.market.paid === trade.owedToThem && trade.owedToThem !== '0' ? { found, trade } : undefined
  }, 60_000)
  const rate = BigInt(view.found.market!.sellers.find((entry) => entry.wallet === seller.wallet)?.bid ?? '0')
  t.ok(rate > 0n, `the USD bid was agreed in BTT for the channel (${rate} base units/MiB)`)
  t.equal(view.trade.owedToThem, (BigInt(view.trade.boughtBytes) * rate / BYTES_PER_PRICE_UNIT).toString(), 'owed = verified bytes bought x the bid')
  t.equal((await totals(seller.daemon, 'earnings')).total, view.found.market!.paid, 'earned = paid, to the base unit')
})
