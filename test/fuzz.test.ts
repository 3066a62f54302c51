import t from 'tap'
import { runFuzz } from './fuzz/attack.js'

t.test('quick fuzz: tens of thousands of hostile messages over real connections; the daemon stays up, nothing escapes, clean downloads complete', async (t) => {
  const seed = Number(process.env.BIDTORRENT_FUZZ_SEED ?? Date.now() % 0x100000000)
  const report = await runFuzz(t, { messages: 20_000, concurrency: 10, seed, idleSeconds: 0 })
  t.comment(`seed ${seed} (BIDTORRENT_FUZZ_SEED replays it): ${report.messagesSent} messages over ${report.connections} connections in ${report.seconds.toFixed(1)} s; memory ${(report.memoryBefore / 1e6).toFixed(0)} → ${(report.memoryAfter / 1e6).toFixed(0)} MB`)
  t.ok(report.messagesSent >= 20_000, 'every message was sent')
  t.equal(report.daemonExits, 0, 'the daemon never exited')
  t.equal(report.uncaughtExceptions, 0, 'no uncaught exception')
  t.equal(report.unhandledRejections, 0, 'no unhandled rejection')
  t.ok(report.cleanDuring, 'a clean leecher completed during the attack, byte-equal')
  t.ok(report.cleanAfter, 'and another after it')
})
