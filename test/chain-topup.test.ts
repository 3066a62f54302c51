import { join } from 'node:path'
import t from 'tap'
import { channelIdFor } from '../src/money/voucher.js'
import { BASE_UNITS_PER_BTT, BYTES_PER_PRICE_UNIT } from '../src/money/price.js'
import { setup } from '../testkit/chain.js'
import { seedFile, waitComplete } from '../testkit/daemon.js'
import { sameFiles } from '../testkit/fixture.js'
import { MiB, marketDaemon, totals } from '../testkit/market.js'
import { runCli, waitFor } from '../testkit/process.js'

t.test('a buyer whose channel deposit runs low tops it up on chain ahead of need, within its budget, and keeps its paid slot; the books agree', async (t) => {
  const p = await setup(t)
  const bid = 50n * BASE_UNITS_PER_BTT
  // Each deposit covers 4 MiB at the bid; the download is 16 MiB from this seller alone.
  const deposit = 4n * bid
  const chainEnv = {
    BIDTORRENT_SETTLEMENT: 'evm',
    BIDTORRENT_CHAIN_RPC_URL: p.chain.rpcUrl,
    BIDTORRENT_CHAIN_ID: String(p.chain.chainId),
    BIDTORRENT_CHANNEL_CONTRACT: await p.channels.getAddress(),
    BIDTORRENT_CHANNEL_DEPOSIT: deposit.toString()
  }
  const seller = await marketDaemon(t, { privateKey: p.chain.accounts[7]!.privateKey, env: chainEnv })
  const buyer = await marketDaemon(t, { privateKey: p.chain.accounts[8]!.privateKey, env: chainEnv })
  const size = 16 * MiB
  const { work, files, torrent } = await seedFile(t, seller.daemon, 'topped.bin', size, ['--floor', '20BTT/MiB', '--upload-limit', '2MiB/s'])
  const budget = 40n * bid
  const added = await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`,
    '--bid', '50BTT/MiB', '--budget', budget.toString(), '--data-dir', buyer.daemon.dataDir])
  t.equal(added.code, 0, added.stderr)
  await waitComplete(buyer.daemon, torrent.infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the download is complete and correct')

  const settled = await waitFor('the seller to confirm the last voucher', async () => {
    const view = await buyer.daemon.torrent(torrent.infoHash)
    const trade = view.market?.trades.find((entry) => entry.wallet === seller.wallet)
    return trade && view.market?.signedNotAccepted === '0' && view.market.paid === trade.owedToThem ? { view, trade } : undefined
  }, 60_000)
  const paid = BigInt(settled.view.market!.paid)
  t.equal(settled.trade.owedToThem, (BigInt(settled.trade.boughtBytes) * bid / BYTES_PER_PRICE_UNIT).toString(), 'owed = verified bytes bought x the bid')
  t.ok(settled.trade.boughtBytes >= size - MiB, `it kept its paid slot: ${settled.trade.boughtBytes} of ${size} bytes were bought (only the first blocks, before the bid landed, came free)`)
  t.ok(paid > 3n * deposit, `it paid more than three deposits' worth (${paid}): the channel was topped up`)
  t.ok(paid <= budget, 'within the budget')
  const found = await p.channels.getFunction('channels')(`0x${Buffer.from(channelIdFor(buyer.wallet, seller.wallet, torrent.infoHash)).toString('hex')}`) as unknown as bigint[]
  t.ok(found[6]! >= paid, `the deposit on chain (${found[6]}) covers everything paid`)
  t.ok(found[6]! <= budget, 'and never went past the budget')
  t.equal((await totals(seller.daemon, 'earnings')).total, paid.toString(), 'the seller earned exactly what the buyer paid')
  t.notMatch(seller.daemon.logs(), /refused a voucher/, 'the seller never had to refuse a voucher')
  t.notOk(settled.view.market!.sellers.some((entry) => entry.state === 'limit-reached' || entry.state === 'refused'), 'the bid never stopped working')

  const channel = Buffer.from(channelIdFor(buyer.wallet, seller.wallet, torrent.infoHash)).toString('hex')
  const topped = await runCli(['channel', 'topup', channel.slice(0, 8), '--amount', '1BTT', '--data-dir', buyer.daemon.dataDir, '--json'])
  t.equal(topped.code, 0, `a channel id's unique prefix is enough, as for torrents: ${topped.stderr}`)
  t.equal((JSON.parse(topped.stdout) as { deposited: string }).deposited, (found[6]! + BASE_UNITS_PER_BTT).toString(), 'and the top-up landed')
  const listed = JSON.parse((await runCli(['channels', '--data-dir', buyer.daemon.dataDir, '--json'])).stdout) as Array<{ channel: string, paid: string, signedNotAccepted: string }>
  t.same(listed.map((entry) => [entry.channel, entry.paid, entry.signedNotAccepted]), [[channel, paid.toString(), '0']], '`channels` shows as paid what the seller confirmed')
  const unknown = await runCli(['channel', 'close', 'ffff0000', '--data-dir', buyer.daemon.dataDir])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /no channel of this wallet starts with "ffff0000"/)
})
