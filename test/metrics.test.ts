import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { ApiEndpoint } from '../src/api/types.js'
import { BASE_UNITS_PER_BTT } from '../src/money/price.js'
import { seedFile, tempDir, waitComplete, type RunningDaemon } from '../testkit/daemon.js'
import { MiB, marketDaemon, totals } from '../testkit/market.js'
import { startPrometheus } from '../testkit/prometheus.js'
import { run, runCli, waitFor } from '../testkit/process.js'

async function endpointOf (daemon: RunningDaemon): Promise<ApiEndpoint> {
  return JSON.parse(await readFile(join(daemon.dataDir, 'api.json'), 'utf8')) as ApiEndpoint
}

/** The metrics show BTT as doubles: equal to the books' base units to double precision. */
function sameBtt (shown: number | undefined, baseUnits: string): boolean {
  const exact = Number(BigInt(baseUnits)) / Number(BASE_UNITS_PER_BTT)
  return shown !== undefined && Math.abs(shown - exact) <= Math.abs(exact) * 1e-12
}

t.test('Prometheus scrapes both sides of a paid transfer: the counters equal the torrents\' own figures and the stored vouchers', async (t) => {
  const seller = await marketDaemon(t)
  const { work, torrent: { infoHash, magnet } } = await seedFile(t, seller.daemon, 'metered.bin', 8 * MiB, ['--floor', '20BTT/MiB'])
  const buyer = await marketDaemon(t)
  const added = await runCli(['add', magnet, '--out', join(work, 'out'), '--bid', '40BTT/MiB', '--budget', '1000BTT', '--peer', `127.0.0.1:${seller.daemon.peerPort}`, '--data-dir', buyer.daemon.dataDir])
  t.equal(added.code, 0, added.stderr)
  await waitComplete(buyer.daemon, infoHash)
  const spent = await waitFor('the buyer\'s last voucher, confirmed', async () => {
    const spending = await totals(buyer.daemon, 'spending')
    const earned = await totals(seller.daemon, 'earnings')
    return spending.signedNotAccepted === '0' && spending.total === earned.total && spending.total !== '0' ? spending.total : undefined
  }, 60_000)

  const text = await buyer.daemon.api.metrics()
  const exposition = join(await tempDir(t, 'bidtorrent-metrics-'), 'metrics.txt')
  await writeFile(exposition, text)
  const lint = await run('sh', ['-c', 'promtool check metrics < "$0"', exposition])
  t.equal(lint.code, 0, `promtool accepts the exposition: ${lint.stdout}${lint.stderr}`)

  const [buyerApi, sellerApi] = [await endpointOf(buyer.daemon), await endpointOf(seller.daemon)]
  const prometheus = await startPrometheus(t, await tempDir(t, 'bidtorrent-prometheus-'), [
    { job: 'buyer', address: new URL(buyerApi.url).host, credentialsFile: join(buyer.daemon.dataDir, 'api.token') },
    { job: 'seller', address: new URL(sellerApi.url).host, credentialsFile: join(seller.daemon.dataDir, 'api.token') }
  ])
  const value = async (expression: string): Promise<number | undefined> => (await prometheus.query(expression))[0]?.value
  await waitFor('both daemons scraped', async () => ((await prometheus.query('up == 1')).length === 2 ? true : undefined), 60_000)

  const bought = await buyer.daemon.torrent(infoHash)
  const sold = await seller.daemon.torrent(infoHash)
  await waitFor('the scraped counters to equal the torrents\' figures', async () => {
    const down = await value(`bidtorrent_torrent_downloaded_bytes_total{job="buyer",info_hash="${infoHash}"}`)
    const up = await value(`bidtorrent_torrent_uploaded_bytes_total{job="seller",info_hash="${infoHash}"}`)
    return down === bought.downloaded && up === sold.uploaded ? true : undefined
  }, 60_000)
  t.pass(`bytes: the buyer downloaded ${bought.downloaded}, the seller uploaded ${sold.uploaded}, as both torrents say`)
  t.equal(await value(`bidtorrent_torrent_pieces_downloaded_total{job="buyer",info_hash="${infoHash}"}`), bought.piecesDownloaded, 'pieces verified')
  t.equal(await value(`bidtorrent_torrent_progress_ratio{job="buyer",info_hash="${infoHash}"}`), 1, 'progress')
  t.equal(await value(`bidtorrent_torrent_hash_failures_total{job="buyer",info_hash="${infoHash}"}`), 0, 'no failed piece')
  t.equal(await value(`sum(bidtorrent_torrent_peers{job="seller",info_hash="${infoHash}"})`), sold.peers, 'peers by slot add up to the connected peers')
  t.equal(await value(`bidtorrent_torrent_state{job="seller",info_hash="${infoHash}",state="seeding"}`), 1, 'the seller is seeding')

  const earned = await totals(seller.daemon, 'earnings')
  t.ok(sameBtt(await value(`bidtorrent_market_earned_btt_total{job="seller",info_hash="${infoHash}"}`), earned.total), `earned: ${earned.total} base units, from the stored vouchers`)
  t.ok(sameBtt(await value(`bidtorrent_market_spent_btt_total{job="buyer",info_hash="${infoHash}"}`), spent), `spent: ${spent} base units, what the seller confirmed`)
  t.ok(sameBtt(await value(`bidtorrent_market_bid_btt_per_mib{job="buyer",info_hash="${infoHash}"}`), bought.market!.bid), 'the bid, 40 BTT per MiB')
  t.ok(sameBtt(await value(`bidtorrent_market_floor_btt_per_mib{job="seller",info_hash="${infoHash}"}`), sold.market!.floor), 'the floor, 20 BTT per MiB')
  await waitFor('the voucher counts scraped to equal the markets\' own', async () => {
    const [buying, selling] = [(await buyer.daemon.torrent(infoHash)).market!.vouchers, (await seller.daemon.torrent(infoHash)).market!.vouchers]
    const sent = await value(`bidtorrent_market_vouchers_sent_total{job="buyer",info_hash="${infoHash}"}`)
    const accepted = await value(`bidtorrent_market_vouchers_accepted_total{job="seller",info_hash="${infoHash}"}`)
    return selling.accepted > 0 && sent === buying.sent && accepted === selling.accepted ? { buying, selling } : undefined
  }, 60_000).then(({ buying, selling }) => {
    t.ok(selling.accepted <= buying.sent + buying.resent, `the seller accepted ${selling.accepted} of the ${buying.sent} vouchers sent (${buying.resent} resent)`)
    t.same(selling.refused, {}, 'and refused none')
  })
  t.ok((await value(`bidtorrent_market_receipts_total{job="buyer",info_hash="${infoHash}"}`) ?? 0) > 0, 'the buyer counts the seller\'s receipts')
  t.ok((await value('bidtorrent_hash_checks_total{job="buyer"}') ?? 0) >= bought.piecesDownloaded, 'every piece the buyer verified went through the hash threads')
  t.equal(await value('bidtorrent_settlement_pending_claims{job="seller"}'), undefined, 'the embedded settlement has no claim queue to show')
  t.ok((await value(`bidtorrent_api_request_duration_seconds_count{job="buyer",route="/metrics",status="200"}`) ?? 0) > 0, 'the API counts its own requests, scrapes among them')
  t.ok((await value('bidtorrent_process_resident_memory_bytes{job="seller"}') ?? 0) > 0, 'process metrics')
})

t.test('/metrics answers only with the API token', async (t) => {
  const { daemon } = await marketDaemon(t)
  const { url, token } = await endpointOf(daemon)
  t.equal((await fetch(`${url}/metrics`)).status, 401, 'no token: refused')
  t.equal((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}` } })).status, 401, 'a wrong token: refused')
  const answer = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(answer.status, 200, 'the token: answered')
  t.match(answer.headers.get('content-type'), /^text\/plain; version=0\.0\.4/, 'Prometheus text format')
  t.match(await answer.text(), /^bidtorrent_torrents 0$/m, 'no torrents yet')
})

