import t from 'tap'
import type { DemoSummary } from '../src/dev/demo.js'
import { BYTES_PER_PRICE_UNIT } from '../src/money/price.js'
import { runCli } from '../testkit/process.js'

t.test('`bidtorrent demo` runs a swarm (tracker, PEX, capped uplinks) to completion, and every bidder paid exactly for what it verified', async (t) => {
  const run = await runCli(['demo', '--size', '6MiB', '--upload-limit', '3MiB/s', '--leecher-upload-limit', '256KiB/s', '--json'])
  t.equal(run.code, 0, run.stderr)
  const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string })
  t.ok(lines.some((line) => line.type === 'progress'), 'progress is reported while it runs')
  const summary = lines.at(-1) as DemoSummary & { type: string }
  t.equal(summary.type, 'summary')
  t.same(summary.peers.map((peer) => peer.name), ['free-1', 'free-2', 'free-3', 'bid-1x', 'bid-2x', 'bid-4x'], 'three free peers and three bidders, by default')
  t.ok(summary.peers.every((peer) => peer.completedAfter !== null && peer.progress === 1), 'every downloader completed')
  for (const free of summary.peers.filter((peer) => peer.kind === 'free')) t.equal(free.paid, '0', `${free.name}, without a bid, paid nothing`)
  t.same(summary.paymentErrors, { 'bid-1x': '0', 'bid-2x': '0', 'bid-4x': '0' }, 'each bidder paid exactly verified bytes x its rate')
  for (const channel of summary.channels) {
    t.equal(channel.booksGap, '0', `${channel.payer}: what it paid is what the seeder earned, to the base unit`)
    t.equal(channel.signedNotAccepted, '0', `${channel.payer}: nothing signed is left unconfirmed`)
    const bid = BigInt(summary.peers.find((peer) => peer.name === channel.payer)!.bid)
    t.equal(channel.paid, (BigInt(channel.boughtBytes) * bid / BYTES_PER_PRICE_UNIT).toString(), `${channel.payer}: paid its bid for every verified byte it bought from the seeder (pay-as-bid)`)
    t.ok(BigInt(channel.chargedBySeller) >= BigInt(channel.paid), `${channel.payer}: the seeder's meter covers what was paid (it also counts blocks never verified)`)
  }
  t.equal(summary.seederEarned, summary.channels.reduce((sum, channel) => sum + BigInt(channel.paid), 0n).toString(), 'the seeder earned what the bidders paid')
  t.ok(summary.freeClassShareWhileContended > 0, 'free peers got a share of the seeder while all downloaded')
})

t.test('`bidtorrent demo` refuses bad arguments with a clear error', async (t) => {
  const below = await runCli(['demo', '--bids', '0,0.5'])
  t.equal(below.code, 2)
  t.match(below.stderr, /below the floor/)
  const uncapped = await runCli(['demo', '--upload-limit', '0'])
  t.equal(uncapped.code, 2)
  t.match(uncapped.stderr, /capped seeder/)
})
