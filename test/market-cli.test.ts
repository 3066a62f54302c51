import { join } from 'node:path'
import t from 'tap'
import type { TorrentView } from '../src/api/types.js'
import { BASE_UNITS_PER_BTT } from '../src/money/price.js'
import { seedFile, startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { MiB, PASSPHRASE, marketDaemon } from '../testkit/market.js'
import { runCli, waitFor } from '../testkit/process.js'

const parse = <T>(stdout: string): T => JSON.parse(stdout) as T

t.test('`bid ID PRICE` spends from the torrent\'s own budget, and asks for --budget (by that name) only when it has none', async (t) => {
  const seller = await marketDaemon(t)
  const buyer = await marketDaemon(t)
  const { work, torrent } = await seedFile(t, seller.daemon, 'bid.bin', 2 * MiB, ['--floor', '20BTT/MiB'])
  const dir = buyer.daemon.dataDir
  const added = await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--paused', '--data-dir', dir])
  t.equal(added.code, 0, added.stderr)
  const none = await runCli(['bid', torrent.infoHash.slice(0, 8), '50BTT/MiB', '--data-dir', dir])
  t.equal(none.code, 2, 'no budget yet: refused')
  t.match(none.stderr, /this torrent has no budget: give one with --budget/, 'and the error names the flag')
  const first = await runCli(['bid', torrent.infoHash, '50BTT/MiB', '--budget', '10000BTT', '--data-dir', dir, '--json'])
  t.equal(first.code, 0, first.stderr)
  t.equal(parse<TorrentView>(first.stdout).market?.budget, (10_000n * BASE_UNITS_PER_BTT).toString())
  const second = await runCli(['bid', torrent.infoHash, '60BTT/MiB', '--data-dir', dir])
  t.equal(second.code, 0, `a new bid without --budget uses the one set before: ${second.stderr}`)
  t.match(second.stdout, /bid 60 BTT\/MiB, budget 10,000 BTT, paid 0 BTT, floor none/, 'and says what stands, readably')
  const usd = await runCli(['bid', torrent.infoHash, '0.05USD/GiB', '--budget', '0.01USD', '--data-dir', dir, '--json'])
  t.equal(usd.code, 0, usd.stderr)
  t.equal(parse<TorrentView>(usd.stdout).market?.budget, (10n ** 16n * BASE_UNITS_PER_BTT / 600_000_000_000n).toString(), 'a budget in USD is held in BTT (16,666.7 BTT at 0.0000006 USD/BTT)')
  const withdrawn = await runCli(['bid', torrent.infoHash, '0', '--data-dir', dir, '--json'])
  t.equal(parse<TorrentView>(withdrawn.stdout).market?.bid, '0', '0 withdraws the bid')
  const target = await runCli(['bid', torrent.infoHash, '50BTT/MiB', '--target', '1MiB/s', '--data-dir', dir])
  t.equal(target.code, 2)
  t.match(target.stderr, /--target goes with an auto bid/)
})

t.test('`floor ID PRICE` and `seed PATH --floor` again change a torrent\'s floor live: a connected bidder hears it', async (t) => {
  const seller = await marketDaemon(t)
  const buyer = await marketDaemon(t)
  const { work, torrent } = await seedFile(t, seller.daemon, 'floor.bin', 24 * MiB, ['--floor', '20BTT/MiB', '--upload-limit', '256KiB/s'])
  await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--bid', '30BTT/MiB', '--budget', '100000BTT', '--data-dir', buyer.daemon.dataDir])
  const stateOfBid = async (): Promise<string | undefined> => (await buyer.daemon.torrent(torrent.infoHash)).market?.sellers[0]?.state
  await waitFor('the bid to win a paid slot', async () => ((await stateOfBid()) === 'winning' ? true : undefined), 60_000)
  const raised = await runCli(['floor', torrent.infoHash.slice(0, 6), '40BTT/MiB', '--data-dir', seller.daemon.dataDir, '--json'])
  t.equal(raised.code, 0, raised.stderr)
  t.equal(parse<TorrentView>(raised.stdout).market?.floor, (40n * BASE_UNITS_PER_BTT).toString(), 'the floor is 40 BTT/MiB now')
  await waitFor('the bidder to learn the new floor', async () => ((await stateOfBid()) === 'below-floor' ? true : undefined), 30_000)
  t.pass('the connected bidder sees its bid below the new floor, without reconnecting')
  const again = await runCli(['seed', join(work, 'source', 'floor.bin'), '--floor', '25BTT/MiB', '--data-dir', seller.daemon.dataDir, '--json'])
  t.equal(again.code, 0, again.stderr)
  t.equal(parse<TorrentView>(again.stdout).market?.floor, (25n * BASE_UNITS_PER_BTT).toString(), '`seed` on a path already seeded changes its floor')
  await waitFor('the bid to win again', async () => ((await stateOfBid()) === 'winning' ? true : undefined), 30_000)
  t.pass('and the bidder, above it again, wins a paid slot')
  const off = await runCli(['floor', torrent.infoHash, '0', '--data-dir', seller.daemon.dataDir, '--json'])
  t.equal(parse<TorrentView>(off.stdout).market?.floor, '0', 'floor 0: the torrent sells nothing')
})

t.test('market flags on a daemon whose market is off fail with a clear error, never silently', async (t) => {
  const plain = await startDaemon(t)
  const { work, torrent } = await seedFile(t, plain, 'plain.bin', MiB)
  for (const args of [
    ['seed', join(work, 'source', 'plain.bin'), '--floor', '20BTT/MiB'],
    ['add', torrent.magnet, '--bid', '20BTT/MiB', '--budget', '100BTT'],
    ['add', torrent.magnet, '--floor', '20BTT/MiB'],
    ['bid', torrent.infoHash, '20BTT/MiB', '--budget', '100BTT'],
    ['floor', torrent.infoHash, '20BTT/MiB']
  ]) {
    const run = await runCli([...args, '--data-dir', plain.dataDir])
    t.equal(run.code, 2, `${args[0]} ${args.slice(2).join(' ')}: refused`)
    t.match(run.stderr, /the market is off in this daemon: it needs a wallet/, 'saying why')
  }
})

t.test('settle says what this call redeemed; amounts print readably, exactly in --json; status prints memory readably', async (t) => {
  const seller = await marketDaemon(t)
  const buyer = await marketDaemon(t)
  const { work, torrent } = await seedFile(t, seller.daemon, 'settle.bin', 3 * MiB + 17, ['--floor', '20BTT/MiB'])
  await runCli(['add', torrent.magnet, '--out', join(work, 'out'), '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--bid', '33.333BTT/MiB', '--budget', '100000BTT', '--data-dir', buyer.daemon.dataDir])
  await waitComplete(buyer.daemon, torrent.infoHash)
  await waitFor('the last voucher, confirmed', async () => {
    const view = await buyer.daemon.torrent(torrent.infoHash)
    return view.market?.signedNotAccepted === '0' && view.market.paid === view.market.trades[0]?.owedToThem ? true : undefined
  }, 60_000)
  const first = await runCli(['settle', '--data-dir', seller.daemon.dataDir])
  t.equal(first.code, 0, first.stderr)
  const second = await runCli(['settle', '--data-dir', seller.daemon.dataDir])
  t.match(second.stdout, /nothing new to redeem/, 'a second settle says it redeemed nothing new')
  t.match(second.stdout, /redeemed on 1 channel in all: /, 'and what stands in all')
  t.ok(/redeemed now|nothing new/.test(first.stdout), first.stdout)

  const human = await runCli(['spending', '--data-dir', buyer.daemon.dataDir])
  const exact = parse<{ total: string }>((await runCli(['spending', '--data-dir', buyer.daemon.dataDir, '--json'])).stdout)
  t.match(human.stdout, /^total paid to peers: [\d,]+(\.\d{1,6})? BTT$/m, `six significant digits at most: ${human.stdout.split('\n')[0]}`)
  t.match(exact.total, /^\d+$/, 'base units, every digit, in --json')
  t.ok(BigInt(exact.total) % 1000n !== 0n || exact.total.length > 6, 'the JSON total is the exact amount')

  const status = await runCli(['status', '--data-dir', seller.daemon.dataDir])
  t.match(status.stdout, /^memory: rss [\d.]+ [KMG]iB, heapTotal/m, 'memory in MiB, not [object Object]')
  t.match(status.stdout, /usdPerBtt: 0.0000006 USD\/BTT \(setting usdPerBtt\)/, 'the BTT price the daemon uses, and where it comes from')
  t.match(status.stdout, /paymentThreshold\s+0.0005 USD\s+\d+\s+833.333 BTT/, 'and the BTT figure it derived for each amount given in USD')
  t.notMatch(status.stdout, /\[object Object\]/)
})

t.test('creating a wallet while the daemon runs says to restart it with the passphrase', async (t) => {
  const plain = await startDaemon(t)
  const created = await runCli(['wallet', 'create', '--data-dir', plain.dataDir], { BIDTORRENT_PASSPHRASE: PASSPHRASE })
  t.equal(created.code, 0, created.stderr)
  t.match(created.stderr, /the daemon running on .* runs with the market off: restart it with BIDTORRENT_PASSPHRASE set to use this wallet/)
  const quiet = await runCli(['wallet', 'create', '--data-dir', await tempDir(t)], { BIDTORRENT_PASSPHRASE: PASSPHRASE })
  t.equal(quiet.stderr, '', 'with no daemon there is nothing to say')
})
