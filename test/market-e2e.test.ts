import { join } from 'node:path'
import t from 'tap'
import type { TorrentView, VoucherTotals } from '../src/daemon/service.js'
import type { PeerInfo } from '../src/engine/torrent.js'
import { BYTES_PER_PRICE_UNIT } from '../src/market/price.js'
import { tempDir, waitComplete } from './helpers/daemon.js'
import { MiB, marketDaemon } from './helpers/market.js'
import { sameFiles, writeFixture } from './helpers/fixture.js'
import { startLibtorrent } from './helpers/clients.js'
import { runCli, waitFor } from './helpers/process.js'

t.test('a bidder pays the seeder per verified piece, exactly verified bytes x the clearing rate', async (t) => {
  const work = await tempDir(t)
  const size = 24 * MiB + 12345
  await writeFixture(join(work, 'source'), [{ path: 'patch.bin', size }])
  const seller = await marketDaemon(t)
  const buyer = await marketDaemon(t)
  const status = await seller.daemon.api.request<{ wallet: string | null, settlement: string | null }>('GET', '/v1/status')
  t.equal(status.wallet, seller.wallet, 'the seller runs with its wallet')
  t.match(status.settlement, /unbacked IOUs/, 'and says what backs its payments')

  const floor = 1000n
  const seeded = await runCli(['seed', join(work, 'source', 'patch.bin'), '--floor', `${floor}`, '--data-dir', seller.daemon.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const torrent = JSON.parse(seeded.stdout) as TorrentView
  t.equal(torrent.market?.floor, '1000')

  const added = await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`,
    '--bid', '5000', '--budget', '1BTT', '--data-dir', buyer.daemon.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  await waitComplete(buyer.daemon, torrent.infoHash)

  // The only bidder pays the floor (uniform price: no losing bid), for every verified byte.
  const expected = BigInt(size) * floor / BYTES_PER_PRICE_UNIT
  let last: VoucherTotals | undefined
  const spending = await waitFor('the last voucher to be stored', async () => {
    last = await buyer.daemon.api.request<VoucherTotals>('GET', '/v1/spending')
    return last.total === expected.toString() ? last : undefined
  }, 60_000).catch((err: unknown) => {
    t.comment(`spending ${JSON.stringify(last)}, expected ${expected}`)
    t.comment(buyer.daemon.logs().split('\n').filter((line) => /market|voucher|bid/i.test(line)).slice(-20).join('\n'))
    t.comment(seller.daemon.logs().split('\n').filter((line) => /market|voucher|bid/i.test(line)).slice(-20).join('\n'))
    throw err
  })
  t.equal(spending.torrents[0]?.peers[0]?.wallet, seller.wallet, 'paid to the seller\'s wallet')
  const earnings = await waitFor('the seller to hold the last voucher', async () => {
    const totals = await seller.daemon.api.request<VoucherTotals>('GET', '/v1/earnings')
    return totals.total === expected.toString() ? totals : undefined
  }, 60_000)
  t.equal(earnings.torrents[0]?.peers[0]?.wallet, buyer.wallet, 'earned from the buyer\'s wallet')
  t.equal(earnings.torrents[0]?.peers[0]?.vouchers, spending.torrents[0]?.peers[0]?.vouchers, 'the seller holds the buyer\'s latest voucher')

  const view = await buyer.daemon.torrent(torrent.infoHash)
  t.equal(view.market?.spent, expected.toString(), 'the torrent\'s spending matches')
  const peers = await seller.daemon.api.request<PeerInfo[]>('GET', `/v1/torrents/${torrent.infoHash}/peers`)
  t.equal(peers[0]?.market?.theirBid, '5000', 'the seller sees the bid')
  const cli = await runCli(['earnings', '--data-dir', seller.daemon.dataDir])
  t.match(cli.stdout, new RegExp(`${buyer.wallet}`), '`earnings` lists the payer')
})

t.test('without a bid nothing is paid, and a bid without a budget is refused', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), [{ path: 'free.bin', size: 3 * MiB }])
  const seller = await marketDaemon(t)
  const buyer = await marketDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'free.bin'), '--floor', '1000', '--data-dir', seller.daemon.dataDir, '--json'])
  const torrent = JSON.parse(seeded.stdout) as TorrentView
  const noBudget = await runCli(['add', torrent.magnet, '--bid', '5000', '--data-dir', buyer.daemon.dataDir])
  t.equal(noBudget.code, 2)
  t.match(noBudget.stderr, /--bid needs --budget/)
  await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--data-dir', buyer.daemon.dataDir])
  await waitComplete(buyer.daemon, torrent.infoHash)
  const spending = await buyer.daemon.api.request<VoucherTotals>('GET', '/v1/spending')
  t.equal(spending.total, '0', 'a free peer downloads and pays nothing')
})

t.test('a libtorrent peer downloads as usual from a seeder that is serving a bidder', async (t) => {
  const work = await tempDir(t)
  const files = [{ path: 'release.bin', size: 20 * MiB + 777 }]
  await writeFixture(join(work, 'source'), files)
  const seller = await marketDaemon(t)
  const buyer = await marketDaemon(t)
  const seeded = await runCli(['seed', join(work, 'source', 'release.bin'), '--floor', '1000', '--data-dir', seller.daemon.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const torrent = JSON.parse(seeded.stdout) as TorrentView
  const added = await runCli(['add', torrent.magnet, '--out', join(work, 'bt'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`,
    '--bid', '3000', '--budget', '1BTT', '--data-dir', buyer.daemon.dataDir])
  t.equal(added.code, 0, added.stderr)
  const libtorrent = await startLibtorrent(t, ['--mode', 'download', '--magnet', torrent.magnet, '--save', join(work, 'lt'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`])
  const result = await libtorrent.done
  t.equal(result.failed, 0, 'libtorrent saw no failed pieces')
  t.same(await sameFiles(join(work, 'source'), join(work, 'lt'), files), [], 'libtorrent\'s copy is byte-equal')
  await waitComplete(buyer.daemon, torrent.infoHash)
  // The bidder may also have fetched pieces from libtorrent (free): it owes the seller for exactly
  // the bytes the seller sent it, which its own ledger shows, and must have paid exactly that.
  const settled = await waitFor('the bidder\'s last voucher', async () => {
    const peers = await buyer.daemon.api.request<PeerInfo[]>('GET', `/v1/torrents/${torrent.infoHash}/peers`)
    const sellerView = peers.find((peer) => peer.market?.wallet === seller.wallet)?.market
    const totals = await buyer.daemon.api.request<VoucherTotals>('GET', '/v1/spending')
    return sellerView && sellerView.owedToThem !== '0' && sellerView.paidToThem === sellerView.owedToThem && totals.total === sellerView.paidToThem ? sellerView : undefined
  }, 60_000)
  t.ok(BigInt(settled.paidToThem) <= BigInt(files[0]!.size) * 1000n / BYTES_PER_PRICE_UNIT, 'never more than the whole file at the rate')
  t.pass(`the bidder paid exactly what it owed the seller (${settled.paidToThem} base units), beside the free libtorrent peer`)
})

t.test('auto-bid (opt-in) bids from the budget left over the data left, and stays within the budget', async (t) => {
  const work = await tempDir(t)
  const size = 16 * MiB
  await writeFixture(join(work, 'source'), [{ path: 'auto.bin', size }])
  const seller = await marketDaemon(t)
  const buyer = await marketDaemon(t, { env: { BIDTORRENT_AUTO_BID: 'true' } })
  const seeded = await runCli(['seed', join(work, 'source', 'auto.bin'), '--floor', '1000', '--data-dir', seller.daemon.dataDir, '--json'])
  const torrent = JSON.parse(seeded.stdout) as TorrentView
  const refused = await runCli(['bid', torrent.infoHash, 'auto', '--budget', '100000', '--data-dir', seller.daemon.dataDir])
  t.match(refused.stderr, /auto-bid is off/, 'a daemon without the setting refuses an auto bid')
  // 100,000 base units over 16 MiB: the auto bid starts at 6,250 a MiB, above the floor of 1,000.
  const added = await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`,
    '--bid', 'auto', '--budget', '100000', '--data-dir', buyer.daemon.dataDir])
  t.equal(added.code, 0, added.stderr)
  await waitComplete(buyer.daemon, torrent.infoHash)
  const expected = BigInt(size) * 1000n / BYTES_PER_PRICE_UNIT
  const spent = await waitFor('the last voucher', async () => {
    const total = BigInt((await buyer.daemon.api.request<VoucherTotals>('GET', '/v1/spending')).total)
    return total === expected ? total : undefined
  }, 60_000)
  t.equal(spent, expected, 'as the only bidder it paid the floor for every verified byte, within the budget')
})
