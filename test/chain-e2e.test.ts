import { join } from 'node:path'
import t from 'tap'
import type { WalletBalance } from '../src/settlement/chain-wallet.js'
import { parseEther } from 'ethers'
import { channelIdFor } from '../src/money/voucher.js'
import { mined, setup, tron } from '../testkit/chain.js'
import { seedFile, waitComplete } from '../testkit/daemon.js'
import { sameFiles } from '../testkit/fixture.js'
import { MiB, marketDaemon, totals } from '../testkit/market.js'
import { runCli, waitFor } from '../testkit/process.js'

for (const deposit of ['native', 'token'] as const) {
  t.test(`two daemons on the evm backend (${deposit} deposits): the buyer opens a channel, pays per verified piece, the seller claims on chain exactly that`, async (t) => {
    const p = await setup(t)
    const contract = await p.channels.getAddress()
    const token = await p.token.getAddress()
    const chainEnv = {
      BIDTORRENT_SETTLEMENT: 'evm',
      BIDTORRENT_CHAIN_RPC_URL: p.chain.rpcUrl,
      BIDTORRENT_CHAIN_ID: String(p.chain.chainId),
      BIDTORRENT_CHANNEL_CONTRACT: contract,
      BIDTORRENT_CHANNEL_DEPOSIT: '1BTT',
      ...(deposit === 'token' ? { BIDTORRENT_CHANNEL_TOKEN: token } : {})
    }
    // The development accounts 5 and 6, funded on the local chain, are the two daemons' wallets.
    const sellerKey = p.chain.accounts[5]!.privateKey
    const buyerKey = p.chain.accounts[6]!.privateKey
    if (deposit === 'token') await mined((p.token.connect(p.deployer) as typeof p.token).getFunction('mint')(p.chain.accounts[6]!.address, parseEther('100')))
    const seller = await marketDaemon(t, { privateKey: sellerKey, env: chainEnv })
    const buyer = await marketDaemon(t, { privateKey: buyerKey, env: chainEnv })
    const status = await seller.daemon.api.request<{ settlement: string }>('GET', '/v1/status')
    t.match(status.settlement, new RegExp(`evm: channel contract ${contract}`), 'the seller settles on the chain')

    const size = 6 * MiB + 4321
    // Capped, so the transfer outlasts the buyer's channel deposit (a transaction) and its bid lands:
    // until then the buyer downloads in a free slot, as any peer would.
    const { work, files, torrent } = await seedFile(t, seller.daemon, 'paid.bin', size, ['--floor', '0.001BTT/MiB', '--upload-limit', '1MiB/s'])
    const added = await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`,
      '--bid', '0.002BTT/MiB', '--budget', '5BTT', '--data-dir', buyer.daemon.dataDir])
    t.equal(added.code, 0, added.stderr)
    await waitComplete(buyer.daemon, torrent.infoHash)
    t.same(await sameFiles(join(work, 'source'), join(work, 'out'), files), [], 'the download is complete and correct')

    const channel = Buffer.from(channelIdFor(buyer.wallet, seller.wallet, torrent.infoHash)).toString('hex')
    const onChain = async (): Promise<{ deposited: bigint, claimed: bigint }> => {
      const found = await p.channels.getFunction('channels')(`0x${channel}`) as unknown as bigint[]
      return { deposited: found[6]!, claimed: found[7]! }
    }
    t.equal((await onChain()).deposited, parseEther('1'), 'the buyer opened the channel with its configured deposit')

    // The buyer's own meter: verified bytes from the seller x the rate in force when they arrived.
    const owed = await waitFor('the buyer\'s last voucher', async () => {
      const view = await buyer.daemon.torrent(torrent.infoHash)
      const trade = view.market?.trades.find((entry) => entry.wallet === seller.wallet)
      const spent = (await totals(buyer.daemon, 'spending')).total
      return trade && trade.owedToThem !== '0' && trade.owedToThem === spent ? BigInt(spent) : undefined
    }, 60_000)
    await waitFor('the seller to hold that voucher', async () => (BigInt((await totals(seller.daemon, 'earnings')).total) === owed ? true : undefined), 60_000)
    const settled = await runCli(['settle', '--data-dir', seller.daemon.dataDir, '--json'])
    t.equal(settled.code, 0, settled.stderr)
    const { claimed, deposited } = await onChain()
    t.equal(claimed, owed, `claimed on chain = what the buyer owed for verified bytes x rate, exactly (${owed} base units)`)
    t.ok(owed > 0n && owed <= BigInt(size) * parseEther('0.002') / BigInt(MiB), 'and never more than the whole file at the bid')
    if (deposit === 'native') {
      t.equal(await p.provider.getBalance(contract), deposited - claimed, 'the contract holds the rest of the deposit for the buyer')
      const before = await p.provider.getBalance(p.stranger.address)
      const sent = await runCli(['withdraw', tron(p.stranger.address), '0.5BTT', '--data-dir', seller.daemon.dataDir])
      t.equal(sent.code, 0, sent.stderr)
      t.equal(await p.provider.getBalance(p.stranger.address), before + parseEther('0.5'), '`withdraw` sends the native coin to a TRON-form address')
    } else {
      t.equal(await p.token.getFunction('balanceOf')(contract), deposited - claimed, 'the contract holds the rest of the token deposit for the buyer')
      t.equal(await p.token.getFunction('balanceOf')(p.chain.accounts[5]!.address), claimed, 'the seller was paid in the token')
      const balance = JSON.parse((await runCli(['wallet', 'balance', '--data-dir', buyer.daemon.dataDir, '--json'])).stdout) as WalletBalance
      t.equal(BigInt(balance.token!.balance), parseEther('100') - deposited, '`wallet balance` shows the token left after the deposit')
      const sent = await runCli(['withdraw', p.stranger.address, claimed.toString(), '--data-dir', seller.daemon.dataDir, '--json'])
      t.equal(sent.code, 0, sent.stderr)
      t.equal(await p.token.getFunction('balanceOf')(p.stranger.address), claimed, '`withdraw` sends the deposit token: the seller\'s earnings leave its wallet')
      t.equal(await p.token.getFunction('balanceOf')(p.chain.accounts[5]!.address), 0n)
    }
    const again = await runCli(['settle', '--data-dir', seller.daemon.dataDir, '--json'])
    t.equal(again.code, 0)
    t.equal((await onChain()).claimed, claimed, 'settling again claims nothing twice')
    t.equal(tron(p.chain.accounts[5]!.address), seller.wallet, 'the same key is the same account on TRON and on the EVM chain')
  })
}
