import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { parseTorrentFile } from '../src/engine/metainfo.js'
import type { PeerInfo } from '../src/api/types.js'
import { BYTES_PER_PRICE_UNIT } from '../src/money/price.js'
import { seedFile, startDaemon, waitComplete } from '../testkit/daemon.js'
import { sameFiles } from '../testkit/fixture.js'
import { MiB, marketDaemon, totals, waitTotal } from '../testkit/market.js'
import { startEvilPeer, type Delivery } from '../testkit/evil-peer.js'
import { connectMarketBuyer, newWallet, voucherFrom } from '../testkit/market-peer.js'
import { runCli, waitFor } from '../testkit/process.js'

const FLOOR = 1000n
const BID = 5000n

/** What the bidder pays for `bytes` (pay-as-bid, the default clearing rule: its own bid). */
const priceOf = (bytes: number | bigint): bigint => BigInt(bytes) * BID / BYTES_PER_PRICE_UNIT

/** What the buyer signed: paid (confirmed by the seller) and signed, not yet confirmed. */
async function signedBy (daemon: Parameters<typeof totals>[0]): Promise<bigint> {
  const spending = await totals(daemon, 'spending')
  return BigInt(spending.total) + BigInt(spending.signedNotAccepted ?? '0')
}

for (const delivery of ['withhold', 'corrupt'] as Delivery[]) {
  const what = delivery === 'withhold' ? 'no delivery: a seller that quotes a paid slot and sends nothing is owed and paid nothing'
    : 'corrupt pieces from a paid seller are never paid, and the seller is banned'
  t.test(what, async (t) => {
    // An honest seeder without a wallet: the bidder completes from it, for free.
    const seeder = await startDaemon(t)
    const { work, files, torrentFile, torrent: { infoHash } } = await seedFile(t, seeder, 'data.bin', 12 * MiB, ['--upload-limit', '4MiB/s'])
    const meta = await parseTorrentFile(await readFile(torrentFile))
    const hostile = await startEvilPeer(meta, join(work, 'source'), { delivery, marketFloor: FLOOR })
    t.teardown(() => hostile.close())

    const buyer = await marketDaemon(t)
    const added = await runCli(['add', torrentFile, '--out', join(work, 'out'), '--bid', `${BID}`, '--budget', '1BTT', '--data-dir', buyer.daemon.dataDir,
      '--peer', `127.0.0.1:${hostile.port}`, '--peer', `127.0.0.1:${seeder.peerPort}`])
    t.equal(added.code, 0, added.stderr)
    const bid = await hostile.inbox.next('bid')
    t.equal(bid.price, BID, 'the bidder bid to the hostile seller, which quoted it a paid slot')
    const done = await waitComplete(buyer.daemon, infoHash)
    t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the file is complete and correct, from the honest seeder')
    if (delivery === 'corrupt') {
      t.ok(hostile.corruptBlocksSent > 0, `the hostile seller sent corrupt blocks at its quoted rate (${hostile.corruptBlocksSent})`)
      t.ok(done.hashFailures >= 3, `pieces failed their check (${done.hashFailures})`)
      t.ok(done.bannedPeers.includes(`127.0.0.1:${hostile.port}`), 'the sender is banned after repeated strikes')
    } else {
      t.ok(hostile.requests.size > 0, `blocks were asked of the seller (${hostile.requests.size}) and never sent`)
    }
    // Vouchers go out within 100 ms of a verified piece; give a late one every chance to show up.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const spending = await totals(buyer.daemon, 'spending')
    t.equal(spending.total, '0', 'nothing was paid')
    t.same(hostile.inbox.all().filter((message) => message.type === 'voucher'), [], 'no voucher reached the hostile seller')
  })
}

t.test('forged, replayed, re-ordered, over-limit and wrong-channel vouchers over the wire are refused; nothing is credited twice', async (t) => {
  // A small credit cap, so that "over the channel's funds" is easy to reach.
  const seller = await marketDaemon(t, { env: { BIDTORRENT_EMBEDDED_CREDIT_CAP: '1000000' } })
  const { torrent: { infoHash } } = await seedFile(t, seller.daemon, 'v.bin', 2 * MiB, ['--floor', `${FLOOR}`])
  const buyer = await connectMarketBuyer(seller.daemon.peerPort, infoHash)
  t.teardown(() => buyer.close())
  t.equal(buyer.seller.wallet, seller.wallet, 'the seller announces its wallet')
  const payer = buyer.wallet.address
  const send = (nonce: number, amount: bigint, signer = buyer.wallet, forInfoHash = infoHash): void =>
    buyer.send(voucherFrom(signer, payer, seller.wallet, forInfoHash, nonce, amount))
  const refusal = async (): Promise<string> => (await buyer.inbox.next('reject')).code

  send(1, 100n)
  await waitTotal(seller.daemon, 'earnings', 100n)
  send(2, 250n)
  await waitTotal(seller.daemon, 'earnings', 250n)
  t.pass('two good vouchers are credited: 100, then 250 cumulative')

  send(3, 10_000n, newWallet())
  t.equal(await refusal(), 'bad-signature', 'forged: signed by another key')
  send(1, 100n)
  t.equal(await refusal(), 'stale-nonce', 'replayed: the first voucher again')
  send(2, 900n)
  t.equal(await refusal(), 'stale-nonce', 're-used nonce with a larger amount')
  send(3, 200n)
  t.equal(await refusal(), 'amount-decreased', 're-ordered: a higher nonce with a lower cumulative amount')
  send(3, 1_000_001n)
  t.equal(await refusal(), 'over-funds', 'over the channel\'s funds (the credit cap)')
  send(3, 300n, buyer.wallet, 'f'.repeat(40))
  t.equal(await refusal(), 'unknown-channel', 'for another torrent\'s channel')
  send(2, 250n)
  send(3, 400n)
  await waitTotal(seller.daemon, 'earnings', 400n)
  t.pass('an exact repeat of the stored voucher is ignored, and the next good one still counts')

  // The daemon's own records: one voucher per channel, the best; redeemed once, at that amount.
  const earnings = await totals(seller.daemon, 'earnings')
  t.equal(earnings.torrents[0]?.peers.length, 1)
  t.equal(earnings.torrents[0]?.peers[0]?.vouchers, 3, 'the stored voucher is the third accepted one')
  t.match(seller.daemon.logs(), /"message":"refused a voucher"/, 'refusals are logged')
  const status = await seller.daemon.api.request<{ state: string }>('GET', '/v1/status')
  t.ok(status, 'the daemon is still serving')
})

t.test('self-trade: a downloader and a seeder with the same wallet neither pay nor rank', async (t) => {
  const shared = newWallet()
  const seller = await marketDaemon(t, { privateKey: shared.privateKey })
  const buyer = await marketDaemon(t, { privateKey: shared.privateKey })
  t.equal(buyer.wallet, seller.wallet, 'both daemons hold the same wallet')
  const { work, files, torrent: { infoHash, magnet } } = await seedFile(t, seller.daemon, 'self.bin', 4 * MiB, ['--floor', `${FLOOR}`])
  await runCli(['add', magnet, '--out', join(work, 'out'), '--bid', `${BID}`, '--budget', '1BTT', '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--data-dir', buyer.daemon.dataDir])
  const peersSeen = await waitFor('the seller to see the buyer', async () => {
    const peers = await seller.daemon.api.request<PeerInfo[]>('GET', `/v1/torrents/${infoHash}/peers`)
    return peers.length > 0 && peers[0]!.market?.speaksMarket ? peers : undefined
  })
  t.equal(peersSeen[0]!.market?.wallet, seller.wallet, 'the seller sees its own wallet on the other side')
  await waitComplete(buyer.daemon, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the download itself is served as for any free peer')
  const peers = await seller.daemon.api.request<PeerInfo[]>('GET', `/v1/torrents/${infoHash}/peers`)
  t.equal(peers[0]?.market?.rank, 0, 'no rank in the auction')
  t.equal(peers[0]?.market?.theirBid, '0', 'no bid was taken')
  t.equal((await totals(buyer.daemon, 'spending')).total, '0', 'nothing paid')
  t.equal((await totals(seller.daemon, 'earnings')).total, '0', 'nothing earned')
})

t.test('partial delivery and a seller killed mid-transfer: exactly the verified pieces are paid, and nothing twice after its restart', async (t) => {
  const size = 24 * MiB
  // On the default transports (uTP first): the killed seller's uTP connection sends no reset, so the
  // buyer holds it open beside the new one for a while, and its vouchers must still reach the seller.
  const seller = await marketDaemon(t)
  const { work, files, torrent: { infoHash, magnet } } = await seedFile(t, seller.daemon, 'part.bin', size, ['--floor', `${FLOOR}`, '--upload-limit', '3MiB/s'])
  const buyer = await marketDaemon(t)
  await runCli(['add', magnet, '--out', join(work, 'out'), '--bid', `${BID}`, '--budget', '1BTT', '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--data-dir', buyer.daemon.dataDir])
  await waitFor('a third of the file', async () => {
    const view = await buyer.daemon.torrent(infoHash)
    return view.pieceCount && view.verifiedPieces >= view.pieceCount / 3 ? view : undefined
  })
  await seller.daemon.kill()

  // With its only source gone no more pieces can verify: what was verified is what is owed. The
  // seller died before it could confirm the last vouchers: they are signed, not counted as paid.
  const atDrop = await waitFor('the last voucher for the verified pieces', async () => {
    const view = await buyer.daemon.torrent(infoHash)
    const spent = await signedBy(buyer.daemon)
    return spent === priceOf(view.verifiedPieces * view.pieceLength!) ? { view, spent } : undefined
  }, 30_000)
  t.ok(atDrop.view.verifiedPieces < atDrop.view.pieceCount!, `the connection dropped mid-file (${atDrop.view.verifiedPieces}/${atDrop.view.pieceCount} pieces)`)
  t.pass(`signed exactly for the verified pieces: ${atDrop.spent} = ${atDrop.view.verifiedPieces} pieces x ${atDrop.view.pieceLength} bytes at the bid`)
  const paidAtDrop = BigInt((await totals(buyer.daemon, 'spending')).total)
  t.ok(paidAtDrop <= atDrop.spent, `what counts as paid (${paidAtDrop}) is only what the seller confirmed`)

  // The seller comes back (SIGKILLed: nothing was flushed) and the buyer is told where it is.
  const restarted = await startDaemon(t, { dataDir: seller.daemon.dataDir, env: { BIDTORRENT_PASSPHRASE: 'market test passphrase' } })
  const earnedAfterRestart = BigInt((await totals(restarted, 'earnings')).total)
  t.ok(earnedAfterRestart <= atDrop.spent, `the restarted seller holds no more than was signed (${earnedAfterRestart} <= ${atDrop.spent})`)
  await buyer.daemon.api.request('POST', `/v1/torrents/${infoHash}/peers`, { peers: [`127.0.0.1:${restarted.peerPort}`] })
  await waitComplete(buyer.daemon, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the download completes after the restart')
  const spent = await waitFor('the buyer\'s last voucher, confirmed', async () => {
    const spending = await totals(buyer.daemon, 'spending')
    const earned = BigInt((await totals(restarted, 'earnings')).total)
    return BigInt(spending.total) === earned && spending.signedNotAccepted === '0' && earned > atDrop.spent ? earned : undefined
  }, 60_000)
  t.ok(spent <= priceOf(size), `never more than the whole file at the rate: nothing paid twice (${spent} <= ${priceOf(size)})`)
  t.pass('the restarted seller holds the buyer\'s latest voucher, and the buyer\'s paid equals the seller\'s earned: nothing was lost')
})

t.test('a buyer killed mid-transfer: pieces it paid for come back from disk and are not bought again', async (t) => {
  const size = 24 * MiB
  const seller = await marketDaemon(t)
  const { work, files, torrent: { infoHash, magnet } } = await seedFile(t, seller.daemon, 'crash.bin', size, ['--floor', `${FLOOR}`, '--upload-limit', '3MiB/s'])
  // Resume data every 2 s: pieces verified and paid since the last save are known only from the
  // record stored with the voucher, and are checked on disk at the restart.
  const env = { BIDTORRENT_RESUME_SAVE_INTERVAL_SECONDS: '2' }
  const buyer = await marketDaemon(t, { env })
  await runCli(['add', magnet, '--out', join(work, 'out'), '--bid', `${BID}`, '--budget', '1BTT', '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--data-dir', buyer.daemon.dataDir])
  await waitFor('the buyer to have paid for half the file', async () => {
    const spent = BigInt((await totals(buyer.daemon, 'spending')).total)
    return spent >= priceOf(size / 2) ? spent : undefined
  })
  await buyer.daemon.kill()

  const again = await startDaemon(t, { dataDir: buyer.daemon.dataDir, env: { BIDTORRENT_PASSPHRASE: 'market test passphrase', ...env } })
  const paidBeforeKill = await signedBy(again)
  t.ok(paidBeforeKill >= priceOf(size / 2), `the vouchers signed before the kill are all on disk (${paidBeforeKill})`)
  const done = await waitComplete(again, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the download completes after the restart')
  const checked = /"message":"check finished"[^\n]*/.exec(again.logs())
  t.comment(checked ? `paid pieces missing from the resume data, checked on disk: ${checked[0]}` : 'the kill came right after a resume save: no piece needed a check')
  t.ok(priceOf(done.piecesFromResume * done.pieceLength!) >= paidBeforeKill,
    `every piece paid for before the kill came back from disk (${done.piecesFromResume} pieces)`)
  t.equal(done.piecesDownloaded, done.pieceCount! - done.piecesFromResume, 'only the pieces not yet had were downloaded again')
  const spent = await waitFor('the seller to hold the buyer\'s last voucher, and the buyer to know it', async () => {
    const spending = await totals(again, 'spending')
    const earned = BigInt((await totals(seller.daemon, 'earnings')).total)
    return BigInt(spending.total) === earned && spending.signedNotAccepted === '0' && earned > paidBeforeKill ? earned : undefined
  }, 60_000)
  t.ok(spent <= priceOf(size), `nothing was paid twice (${spent} <= ${priceOf(size)})`)
})
