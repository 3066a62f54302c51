import { copyFile, mkdir, readFile, truncate } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { parseEther } from 'ethers'
import type { PeerInfo } from '../src/api/types.js'
import { BYTES_PER_PRICE_UNIT, parseQuote, usdToBtt, parseAmount } from '../src/money/price.js'
import { parseTorrentFile } from '../src/engine/metainfo.js'
import { channelIdFor } from '../src/money/voucher.js'
import type { ChannelView } from '../src/settlement/chain-wallet.js'
import { restartChain, setup, travel, type Parties } from '../testkit/chain.js'
import { seedFile, startDaemon, waitComplete, type RunningDaemon } from '../testkit/daemon.js'
import type { TorrentView } from '../src/api/types.js'
import { startEvilPeer } from '../testkit/evil-peer.js'
import { sameFiles } from '../testkit/fixture.js'
import { MiB, PASSPHRASE, marketDaemon, totals } from '../testkit/market.js'
import { runCli, waitFor } from '../testkit/process.js'
import { errorMessage } from '../src/util/errors.js'

const DAY = 86_400

function chainEnv (p: Parties, contract: string, rpcUrl = p.chain.rpcUrl): NodeJS.ProcessEnv {
  return {
    BIDTORRENT_SETTLEMENT: 'evm',
    BIDTORRENT_CHAIN_RPC_URL: rpcUrl,
    BIDTORRENT_CHAIN_ID: String(p.chain.chainId),
    BIDTORRENT_CHANNEL_CONTRACT: contract,
    BIDTORRENT_CHANNEL_DEPOSIT: '1BTT',
    BIDTORRENT_CHANNEL_LIFETIME_SECONDS: String(DAY)
  }
}

async function onChain (p: Parties, channel: string): Promise<{ deposited: bigint, claimed: bigint, refunded: bigint }> {
  const found = await p.channels.getFunction('channels')(`0x${channel}`) as unknown as bigint[]
  return { deposited: found[6]!, claimed: found[7]!, refunded: found[8]! }
}

interface PaymentState { view: TorrentView, owed: bigint, spent: bigint, earned: bigint }

/** What the buyer owes the seller for verified bytes (its meter), what it signed, and what the seller holds. */
async function paymentState (buyer: { daemon: RunningDaemon }, seller: { daemon: RunningDaemon, wallet: string }, infoHash: string): Promise<PaymentState> {
  const view = await buyer.daemon.torrent(infoHash)
  return {
    view,
    owed: BigInt(view.market?.trades.find((entry) => entry.wallet === seller.wallet)?.owedToThem ?? '0'),
    spent: BigInt((await totals(buyer.daemon, 'spending')).total),
    earned: BigInt((await totals(seller.daemon, 'earnings')).total)
  }
}

/**
 * Everything owed is signed and the seller holds it. Signed = held alone is not enough: between two
 * vouchers the seller holds the last one while more is already owed for pieces just verified.
 */
const paidUp = (state: PaymentState): boolean => state.spent > 0n && state.owed === state.spent && state.spent === state.earned

t.test('no delivery on chain: the buyer funds a channel, receives nothing, and gets the whole deposit back', async (t) => {
  const p = await setup(t)
  const contract = await p.channels.getAddress()
  const seeder = await startDaemon(t)
  const { work, files, torrentFile, torrent: { infoHash } } = await seedFile(t, seeder, 'nothing.bin', 4 * MiB, ['--upload-limit', '4MiB/s'])
  const meta = await parseTorrentFile(await readFile(torrentFile))
  const hostile = await startEvilPeer(meta, join(work, 'source'), { delivery: 'withhold', marketFloor: 1000n, marketBackend: { backend: 'evm', chainId: p.chain.chainId } })
  t.teardown(() => hostile.close())
  const buyer = await marketDaemon(t, { privateKey: p.chain.accounts[7]!.privateKey, env: chainEnv(p, contract) })
  await runCli(['add', torrentFile, '--out', join(work, 'out'), '--bid', '0.001BTT/MiB', '--budget', '2BTT', '--data-dir', buyer.daemon.dataDir,
    '--peer', `127.0.0.1:${hostile.port}`, '--peer', `127.0.0.1:${seeder.peerPort}`])
  const bid = await hostile.inbox.next('bid', 60_000)
  t.ok(bid.price > 0n, 'the buyer funded its channel on chain, then bid')
  await waitComplete(buyer.daemon, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the file came from the free seeder')
  t.equal((await totals(buyer.daemon, 'spending')).total, '0', 'nothing was paid to the seller that sent nothing')

  const channel = Buffer.from(channelIdFor(buyer.wallet, hostile.wallet.address, infoHash)).toString('hex')
  const listed = JSON.parse((await runCli(['channels', '--data-dir', buyer.daemon.dataDir, '--json'])).stdout) as ChannelView[]
  t.same(listed.map((entry) => [entry.channel, entry.role, entry.deposited, entry.paid]), [[channel, 'payer', parseEther('1').toString(), '0']], '`channels` shows the deposit and no payment')
  const early = await runCli(['channel', 'close', channel, '--data-dir', buyer.daemon.dataDir])
  t.equal(early.code, 2, 'no refund before the channel expires')
  t.match(early.stderr, /runs until/)
  await travel(p.provider, DAY)
  const requested = await runCli(['channel', 'close', channel, '--data-dir', buyer.daemon.dataDir, '--json'])
  t.equal(requested.code, 0, requested.stderr)
  t.match(requested.stdout, /refund requested/)
  await travel(p.provider, 3600)
  const refunded = await runCli(['channel', 'close', channel, '--data-dir', buyer.daemon.dataDir, '--json'])
  t.equal(refunded.code, 0, refunded.stderr)
  const state = await onChain(p, channel)
  t.equal(state.refunded, state.deposited, 'the whole deposit came back')
  t.equal(state.claimed, 0n, 'nothing was claimed')
})

t.test('self-trade on chain: the same wallet on both sides opens no channel and pays nothing', async (t) => {
  const p = await setup(t)
  const contract = await p.channels.getAddress()
  const key = p.chain.accounts[8]!.privateKey
  const seller = await marketDaemon(t, { privateKey: key, env: chainEnv(p, contract) })
  const buyer = await marketDaemon(t, { privateKey: key, env: chainEnv(p, contract) })
  const { work, torrent: { infoHash, magnet } } = await seedFile(t, seller.daemon, 'self.bin', 2 * MiB, ['--floor', '0.001BTT/MiB'])
  await runCli(['add', magnet, '--out', join(work, 'out'), '--bid', '0.002BTT/MiB', '--budget', '1BTT', '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--data-dir', buyer.daemon.dataDir])
  await waitComplete(buyer.daemon, infoHash)
  t.same(JSON.parse((await runCli(['channels', '--data-dir', buyer.daemon.dataDir, '--json'])).stdout), [], 'no channel was opened')
  t.equal((await totals(buyer.daemon, 'spending')).total, '0', 'nothing paid')
  t.equal((await totals(seller.daemon, 'earnings')).total, '0', 'nothing earned')
})

t.test('partial delivery on chain: a seller holding a third of the file is paid, and claims, exactly the verified part', async (t) => {
  const p = await setup(t)
  const contract = await p.channels.getAddress()
  const seller = await marketDaemon(t, { privateKey: p.chain.accounts[13]!.privateKey, env: chainEnv(p, contract) })
  const buyer = await marketDaemon(t, { privateKey: p.chain.accounts[14]!.privateKey, env: chainEnv(p, contract) })
  const floor = parseEther('0.001')
  const { work, torrentFile, torrent: { infoHash } } = await seedFile(t, seller.daemon, 'partial.bin', 12 * MiB)
  // The seller keeps only the first third of the data: it can deliver no more than that.
  t.equal((await runCli(['rm', infoHash, '--data-dir', seller.daemon.dataDir])).code, 0)
  await mkdir(join(work, 'partial'))
  await copyFile(join(work, 'source', 'partial.bin'), join(work, 'partial', 'partial.bin'))
  await truncate(join(work, 'partial', 'partial.bin'), 4 * MiB)
  const readded = await runCli(['add', torrentFile, '--out', join(work, 'partial'), '--floor', `${floor}`, '--upload-limit', '2MiB/s', '--data-dir', seller.daemon.dataDir])
  t.equal(readded.code, 0, readded.stderr)
  const held = await waitFor('the seller\'s check of its partial data', async () => {
    const view = await seller.daemon.torrent(infoHash)
    // Once its check is done: while it runs, the count is still climbing.
    return view.pieceCount && view.state !== 'checking' && view.verifiedPieces > 0 ? view : undefined
  }, 60_000)
  t.ok(held.verifiedPieces < held.pieceCount!, `the seller holds ${held.verifiedPieces} of ${held.pieceCount} pieces`)

  await runCli(['add', torrentFile, '--out', join(work, 'out'), '--bid', '0.002BTT/MiB', '--budget', '1BTT', '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--data-dir', buyer.daemon.dataDir])
  let last = ''
  const got = await waitFor('every piece the seller has, and the voucher for them at the seller', async () => {
    const state = await paymentState(buyer, seller, infoHash)
    last = `verified ${state.view.verifiedPieces}, owed ${state.owed}, spent ${state.spent}, earned ${state.earned}`
    // Every piece in, everything owed for them signed, and that voucher at the seller.
    return state.view.verifiedPieces === held.verifiedPieces && paidUp(state) ? state : undefined
  }, 180_000).catch((err: unknown) => { throw new Error(`${errorMessage(err)}; at the end: ${last}`) })
  // Blocks that came through a free unchoke before the bid was accepted are not charged: the
  // buyer's meter counts the verified bytes bought through the paid slot.
  const trade = got.view.market!.trades.find((entry) => entry.wallet === seller.wallet)!
  const verifiedBytes = got.view.verifiedPieces * got.view.pieceLength!
  t.ok(trade.boughtBytes > 0 && trade.boughtBytes <= verifiedBytes, `${trade.boughtBytes} of the ${verifiedBytes} verified bytes were bought (the rest came free)`)
  t.equal(got.spent, BigInt(trade.boughtBytes) * parseEther('0.002') / BYTES_PER_PRICE_UNIT, 'paid exactly the verified bytes bought, at the clearing price (its bid: pay-as-bid)')
  t.ok(got.view.verifiedPieces < got.view.pieceCount!, 'and the download stays partial: nobody has the rest')

  const settled = await runCli(['settle', '--data-dir', seller.daemon.dataDir])
  t.equal(settled.code, 0, settled.stdout + settled.stderr)
  const channel = Buffer.from(channelIdFor(buyer.wallet, seller.wallet, infoHash)).toString('hex')
  const state = await onChain(p, channel)
  t.equal(state.claimed, got.spent, 'the seller claimed on chain exactly the verified part')
  t.equal(state.deposited - state.claimed, parseEther('1') - got.spent, 'the rest of the deposit stays the buyer\'s')
})

t.test('outage: the chain node stops mid-transfer and restarts from its saved state, and the seller is SIGKILLed with its claim in flight; the claim is made exactly once', async (t) => {
  const p = await setup(t, { persist: true })
  const contract = await p.channels.getAddress()
  const env = chainEnv(p, contract)
  const seller = await marketDaemon(t, { privateKey: p.chain.accounts[9]!.privateKey, env })
  const buyer = await marketDaemon(t, { privateKey: p.chain.accounts[10]!.privateKey, env })
  const { work, files, torrent: { infoHash, magnet } } = await seedFile(t, seller.daemon, 'outage.bin', 8 * MiB, ['--floor', '0.001BTT/MiB', '--upload-limit', '2MiB/s'])
  await runCli(['add', magnet, '--out', join(work, 'out'), '--bid', '0.002BTT/MiB', '--budget', '1BTT', '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--data-dir', buyer.daemon.dataDir])
  const channel = Buffer.from(channelIdFor(buyer.wallet, seller.wallet, infoHash)).toString('hex')
  await waitFor('the first vouchers to reach the seller', async () => (BigInt((await totals(seller.daemon, 'earnings')).total) > 0n ? true : undefined), 120_000)

  await p.chain.stop()
  await waitComplete(buyer.daemon, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the transfer finished with the chain node down')
  const paid = await waitFor('the buyer\'s last voucher at the seller', async () => {
    const state = await paymentState(buyer, seller, infoHash)
    return paidUp(state) ? state.spent : undefined
  }, 60_000)
  t.pass(`the seller kept accepting vouchers on the deposit it last read (${paid} base units)`)
  const failed = await runCli(['settle', '--data-dir', seller.daemon.dataDir])
  t.equal(failed.code, 1, '`settle` says it could not finish')
  t.match(failed.stdout, /not finished: .*claims stay queued/)

  await restartChain(p)
  const restarted = await onChain(p, channel)
  t.equal(restarted.deposited, parseEther('1'), 'the restarted node resumed from its saved state: the deposit is there')
  t.equal(restarted.claimed, 0n, 'and nothing was claimed while it was down')

  // The claim goes out, but no block takes it: the seller dies with its claim in flight.
  await p.provider.send('evm_setAutomine', [false])
  await runCli(['settle', '--data-dir', seller.daemon.dataDir])
  await waitFor('the claim in the node\'s pool', async () => {
    const pool = await p.provider.send('txpool_status', []) as { pending: string }
    return BigInt(pool.pending) > 0n ? true : undefined
  }, 30_000)
  await seller.daemon.kill()
  // And the node restarts again, which may drop the unmined transaction with its pool.
  await restartChain(p)

  const again = await startDaemon(t, { dataDir: seller.daemon.dataDir, env: { BIDTORRENT_PASSPHRASE: PASSPHRASE, ...env } })
  await waitFor('the resumed claim', async () => ((await onChain(p, channel)).claimed > 0n ? true : undefined), 120_000)
    .catch(async () => { await runCli(['settle', '--data-dir', again.dataDir]) })
  await runCli(['settle', '--data-dir', again.dataDir])
  t.equal((await onChain(p, channel)).claimed, paid, 'the claim made after the restarts is exactly what was paid')
  const claims = async (): Promise<number> => (await p.channels.queryFilter(p.channels.filters.Claimed!(`0x${channel}`))).length
  t.equal(await claims(), 1, 'in one claim transaction')
  await runCli(['settle', '--data-dir', again.dataDir])
  t.equal((await onChain(p, channel)).claimed, paid, 'settling again changes nothing')
  t.equal(await claims(), 1, 'and sends nothing: the claim was made exactly once')
})

t.test('volatility: a bid quoted in USD is fixed in BTT for the channel when agreed; a price swing mid-transfer changes nothing agreed', async (t) => {
  let usdPerBtt = '0.0000005'
  const priceServer = createHttpServer((_request, response) => {
    response.setHeader('content-type', 'application/json')
    response.end(`{"bittorrent":{"usd":"${usdPerBtt}"}}`)
  })
  await new Promise<void>((resolve) => priceServer.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => priceServer.close(() => resolve())))
  const priceEnv = { BIDTORRENT_PRICE_SOURCE_URL: `http://127.0.0.1:${(priceServer.address() as AddressInfo).port}/price`, BIDTORRENT_PRICE_REFRESH_SECONDS: '5' }

  const p = await setup(t)
  const contract = await p.channels.getAddress()
  // Pay-as-bid: the rate is the bid itself, so a bid converted again at a new price would show.
  const seller = await marketDaemon(t, { privateKey: p.chain.accounts[11]!.privateKey, env: { ...chainEnv(p, contract), BIDTORRENT_MARKET_CLEARING: 'pay-as-bid' } })
  const buyer = await marketDaemon(t, { privateKey: p.chain.accounts[12]!.privateKey, env: { ...chainEnv(p, contract), ...priceEnv, BIDTORRENT_CHANNEL_DEPOSIT: '20BTT' } })
  const { work, torrent: { infoHash, magnet } } = await seedFile(t, seller.daemon, 'volatile.bin', 8 * MiB, ['--floor', '1000', '--upload-limit', '1MiB/s'])
  // At 0.0000005 USD a BTT, 0.0005 USD/GiB is about 0.98 BTT a MiB.
  const usdBid = '0.0005USD/GiB'
  const added = await runCli(['add', magnet, '--out', join(work, 'out'), '--bid', usdBid, '--budget', '30BTT', '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--data-dir', buyer.daemon.dataDir])
  t.equal(added.code, 0, added.stderr)
  const agreed = usdToBtt((parseQuote(usdBid) as { usdPerMiB: bigint }).usdPerMiB, parseAmount(`${usdPerBtt}BTT`))
  const seenBid = async (): Promise<string | undefined> => {
    const peers = await seller.daemon.api.request<PeerInfo[]>('GET', `/v1/torrents/${infoHash}/peers`)
    return peers[0]?.market?.theirBid
  }
  t.equal(await waitFor('the bid at the seller', async () => { const bid = await seenBid(); return bid && bid !== '0' ? bid : undefined }, 60_000), agreed.toString(),
    `the USD bid reached the seller in BTT at the price of the moment (${agreed} base units per MiB)`)

  usdPerBtt = '0.000001'
  await waitFor('the buyer to read the new price', () => (/"message":"BTT price".*"usd":"0.000001"/.test(buyer.daemon.logs()) ? true : undefined), 30_000)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(await seenBid(), agreed.toString(), 'after the BTT price doubled, the channel keeps the agreed BTT bid')
  await waitComplete(buyer.daemon, infoHash)

  const trade = await waitFor('the seller\'s meter and the buyer\'s last voucher', async () => {
    const view = await seller.daemon.torrent(infoHash)
    const meter = view.market?.trades.find((entry) => entry.wallet === buyer.wallet)
    const spent = (await totals(buyer.daemon, 'spending')).total
    return meter && meter.chargedToThem !== '0' && meter.chargedToThem === spent ? meter : undefined
  }, 60_000)
  t.equal(BigInt(trade.chargedToThem), BigInt(trade.soldBytes) * agreed / BYTES_PER_PRICE_UNIT, 'every paid byte was charged at the agreed rate, before and after the swing')
  await runCli(['settle', '--data-dir', seller.daemon.dataDir])
  const channel = Buffer.from(channelIdFor(buyer.wallet, seller.wallet, infoHash)).toString('hex')
  t.equal((await onChain(p, channel)).claimed, BigInt(trade.chargedToThem), 'and that is what was claimed on chain')
})

t.test('a buyer whose wallet holds no coins cannot fund a channel: it says so, tries again later rather than at every message, and downloads as a free peer', async (t) => {
  const p = await setup(t)
  const contract = await p.channels.getAddress()
  const seller = await marketDaemon(t, { privateKey: p.chain.accounts[13]!.privateKey, env: chainEnv(p, contract) })
  const buyer = await marketDaemon(t, { env: chainEnv(p, contract) })
  const { work, files, torrent: { infoHash, magnet } } = await seedFile(t, seller.daemon, 'broke.bin', 4 * MiB, ['--floor', '0.001BTT/MiB', '--upload-limit', '1MiB/s'])
  await runCli(['add', magnet, '--out', join(work, 'out'), '--bid', '0.002BTT/MiB', '--budget', '1BTT', '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--data-dir', buyer.daemon.dataDir])
  await waitComplete(buyer.daemon, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the download completes in a free slot')
  const warnings = buyer.daemon.logs().split('\n').filter((line) => line.includes('cannot fund the channel on chain'))
  t.equal(warnings.length, 1, 'one warning, with a retry scheduled, not a storm of chain calls')
  t.match(warnings[0], /retryInSeconds/)
  t.equal((await totals(buyer.daemon, 'spending')).total, '0', 'nothing paid')
})
