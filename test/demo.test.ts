import t from 'tap'
import type { DemoSummary } from '../src/demo/demo.js'
import { runCli } from './helpers/process.js'

t.test('`bidtorrent demo` runs a capped seeder and bidders 0/1/2/4 to completion, and every bidder paid exactly for what it verified', async (t) => {
  const run = await runCli(['demo', '--size', '6MiB', '--upload-limit', '3MiB/s', '--json'])
  t.equal(run.code, 0, run.stderr)
  const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string })
  t.ok(lines.some((line) => line.type === 'progress'), 'progress is reported while it runs')
  const summary = lines.at(-1) as DemoSummary & { type: string }
  t.equal(summary.type, 'summary')
  t.same(summary.peers.map((peer) => peer.name), ['free-1', 'bid-1x', 'bid-2x', 'bid-4x'])
  t.ok(summary.peers.every((peer) => peer.completedAfter !== null && peer.progress === 1), 'every downloader completed')
  const free = summary.peers[0]!
  t.equal(free.paid, '0', 'the peer without a bid paid nothing')
  t.same(summary.paymentErrors, { 'bid-1x': '0', 'bid-2x': '0', 'bid-4x': '0' }, 'each bidder paid exactly verified bytes x its rate')
  for (const peer of summary.peers.slice(1)) {
    t.equal(peer.earnedBySeeder, peer.paid, `the seeder holds ${peer.name}'s vouchers in full`)
    t.equal(peer.chargedBySeeder, peer.owedForVerified, `the seeder's meter agrees with ${peer.name}'s (bytes sent x quoted rate)`)
  }
  // The top bidder held the auctioned slot while the others bid: uniform price, it paid the highest
  // losing bid (2x the floor), never its own 4x. (Its first blocks may come free, before its bid lands.)
  const floor = BigInt(summary.floor)
  const topPaid = BigInt(summary.peers[3]!.paid)
  t.ok(topPaid <= 6n * 2n * floor && topPaid > 6n * floor, `uniform price: the winner pays the highest losing bid (${topPaid})`)
  t.equal(summary.seederEarned, summary.peers.reduce((sum, peer) => sum + BigInt(peer.paid), 0n).toString(), 'the seeder earned what the bidders paid')
})

t.test('`bidtorrent demo` refuses bad arguments with a clear error', async (t) => {
  const below = await runCli(['demo', '--bids', '0,0.5'])
  t.equal(below.code, 2)
  t.match(below.stderr, /below the floor/)
  const uncapped = await runCli(['demo', '--upload-limit', '0'])
  t.equal(uncapped.code, 2)
  t.match(uncapped.stderr, /capped seeder/)
})
