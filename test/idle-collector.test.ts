import t from 'tap'
import { GROWTH_BYTES, RELEASED_BYTES, collectWhenIdle, nextCollection, type CollectorState } from '../src/daemon/idle-collector.js'
import { noteReleasedMemory } from '../src/util/released-memory.js'

const MB = 1024 * 1024
const quiet: CollectorState = { busySinceCollection: false, rssAfterCollection: 60 * MB, releasedAtCollection: 0 }
const reading = (utilization: number, rss = 60 * MB, released = 0): { utilization: number, rss: number, released: number } => ({ utilization, rss, released })

t.test('a busy stretch is collected after once the daemon turns idle, and only once', async (t) => {
  let state = quiet
  const step = (utilization: number): boolean => {
    const decision = nextCollection(state, reading(utilization))
    state = decision.state
    return decision.collect
  }
  t.notOk(step(0.001), 'an idle daemon that did nothing is left alone')
  t.notOk(step(0.4), 'not while busy')
  t.notOk(step(0.015), 'nor while it is winding down')
  t.ok(step(0.002), 'collected in the first idle interval after')
  t.notOk(step(0.002), 'and not again while it stays idle')
  t.notOk(step(0.002), 'nor after')
})

t.test("memory grown or let go since the last collection counts as work that an interval's average utilization may hide", async (t) => {
  t.notOk(nextCollection(quiet, reading(0.005, 60 * MB + GROWTH_BYTES)).collect, 'growth up to the threshold is not')
  t.ok(nextCollection(quiet, reading(0.005, 60 * MB + GROWTH_BYTES + 1)).collect, 'beyond it, collected while idle')
  t.notOk(nextCollection(quiet, reading(0.005, 60 * MB, RELEASED_BYTES - 1)).collect, 'a few buffers let go are not')
  t.ok(nextCollection(quiet, reading(0.005, 60 * MB, RELEASED_BYTES)).collect, 'a piece cache emptied is')
  t.notOk(nextCollection(quiet, reading(0.3, 200 * MB, 100 * MB)).collect, 'never while busy')
})

t.test('the collector runs the collection it was given when the process sits idle, and never without one', async (t) => {
  let collections = 0
  const collector = collectWhenIdle(50, () => { collections++ })
  noteReleasedMemory(RELEASED_BYTES)
  const deadline = Date.now() + 60_000
  while (collections === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  collector.stop()
  t.equal(collections, 1, 'collected once the released memory was noted')
  collectWhenIdle(50, undefined).stop()
  t.pass('without a collection to run (no --expose-gc), nothing is scheduled')
})
