import t from 'tap'
import { pickRarestPiece } from '../src/engine/piece-picker.js'
import { TokenBucket, RateLimitChain } from '../src/engine/rate-limiter.js'
import { parseRate, parseSize } from '../src/util/units.js'
import { banKeyOf } from '../src/engine/bans.js'
import { isCallableAddress } from '../src/util/address.js'
import { swarmHealth } from '../src/engine/torrent-status.js'

t.test('rarest first picks the least available wanted piece', async (t) => {
  const availability = Uint16Array.from([5, 2, 9, 1, 3])
  const all = (): boolean => true
  t.equal(pickRarestPiece({ pieceCount: 5, availability, wanted: all, random: () => 0 }), 3)
  t.equal(pickRarestPiece({ pieceCount: 5, availability, wanted: (i) => i !== 3, random: () => 0 }), 1)
  t.equal(pickRarestPiece({ pieceCount: 5, availability, wanted: () => false, random: () => 0 }), -1)
  t.equal(pickRarestPiece({ pieceCount: 0, availability: new Uint16Array(0), wanted: all, random: () => 0 }), -1)
})

t.test('rarest first breaks ties at random so peers spread out', async (t) => {
  const availability = new Uint16Array(100).fill(4)
  const picks = new Set<number>()
  for (let i = 0; i < 10; i++) picks.add(pickRarestPiece({ pieceCount: 100, availability, wanted: () => true, random: () => i / 10 }))
  t.equal(picks.size, 10)
})

t.test('token bucket: passes the burst at once, then meters at the rate', async (t) => {
  const bucket = new TokenBucket(1_000_000, 0.25, 0)
  t.equal(bucket.delayFor(16_384, 0), 0)
  bucket.consume(250_000, 0)
  t.ok(bucket.delayFor(16_384, 0) > 0, 'empty after the burst')
  t.equal(bucket.delayFor(16_384, 17), 0, 'refilled 17 KB after 17 ms')
  const unlimited = new TokenBucket(0)
  unlimited.consume(1e12)
  t.equal(unlimited.delayFor(1e9), 0, 'rate 0 is unlimited')
})

t.test('token bucket: long-run throughput equals the rate', async (t) => {
  const bucket = new TokenBucket(2_000_000, 0.25, 0)
  let now = 0
  let sent = 0
  while (now < 10_000) {
    const delay = bucket.delayFor(16_384, now)
    if (delay > 0) { now += delay; continue }
    bucket.consume(16_384, now)
    sent += 16_384
  }
  const rate = sent / 10
  t.ok(rate <= 2_000_000 * 1.06 && rate >= 2_000_000 * 0.94, `~2 MB/s over 10 simulated seconds (${rate})`)
})

t.test('a chain of buckets waits for the slowest', async (t) => {
  const chain = new RateLimitChain([new TokenBucket(0, 0.25, 0), new TokenBucket(100_000, 0.25, 0)])
  chain.consume(100_000, 0)
  t.ok(chain.delayFor(16_384, 0) > 0)
})

t.test('sizes and rates parse with SI and IEC units', async (t) => {
  t.equal(parseSize('4096'), 4096)
  t.equal(parseSize('512KiB'), 512 * 1024)
  t.equal(parseSize('1.5GB'), 1_500_000_000)
  t.equal(parseRate('20MiB/s'), 20 * 1024 * 1024)
  t.equal(parseRate('500KB/s'), 500_000)
  t.equal(parseRate('0'), 0)
  t.equal(parseRate('unlimited'), 0)
  t.throws(() => parseRate('fast'), /invalid rate "fast"/)
  t.throws(() => parseSize('-1MiB'), /invalid size/)
  t.throws(() => parseSize('12 parsecs'), /invalid size/)
})

t.test('a ban names the IP, so another port does not get the peer back in; on loopback it names address and port', async (t) => {
  t.equal(banKeyOf('203.0.113.9:6881'), '203.0.113.9')
  t.equal(banKeyOf('203.0.113.9:51413'), banKeyOf('203.0.113.9:6881'), 'the same host on another port is the same ban')
  t.equal(banKeyOf('[2001:db8::1]:6881'), '2001:db8::1', 'IPv6 too')
  t.equal(banKeyOf('127.0.0.1:6881'), '127.0.0.1:6881', 'on loopback every local peer shares the IP: the port stays in the ban')
  t.not(banKeyOf('127.0.0.1:6882'), banKeyOf('127.0.0.1:6881'))
  t.equal(banKeyOf('[::1]:6881'), '[::1]:6881')
})

t.test('addresses learned from the swarm: the unspecified address, broadcast and multicast are never called', async (t) => {
  for (const address of ['0.0.0.0:6881', '0.1.2.3:80', '224.0.0.1:6881', '239.255.255.250:1900', '255.255.255.255:6881', '[::]:6881', '[ff02::1]:6881', '1.2.3.4:0', 'nonsense']) {
    t.notOk(isCallableAddress(address), address)
  }
  for (const address of ['127.0.0.1:6881', '10.0.0.1:51413', '223.255.255.255:1', '[::1]:6881', '[2001:db8::1]:6881', 'peer.example:6881']) {
    t.ok(isCallableAddress(address), address)
  }
})

t.test('swarm health: distributed copies are the rarest piece\'s copies plus the share of pieces with more; seeds count once per piece', async (t) => {
  t.same(swarmHealth(Uint16Array.from([0, 1, 1, 2]), 0), { distributedCopies: 0.75, rarestPieceCopies: 0 }, 'a piece nobody has: under one copy')
  t.same(swarmHealth(Uint16Array.from([1, 1, 2, 2]), 1), { distributedCopies: 2.5, rarestPieceCopies: 2 })
  t.same(swarmHealth(Uint16Array.from([0, 0, 0]), 3), { distributedCopies: 3, rarestPieceCopies: 3 }, 'seeds only')
  t.same(swarmHealth(Uint16Array.from([0, 1, 1]), 0), { distributedCopies: 0.666, rarestPieceCopies: 0 }, 'rounded down: never more copies than there are')
})
