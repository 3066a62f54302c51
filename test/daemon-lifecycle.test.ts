import t from 'tap'
import { createLogger, transports } from 'winston'
import { Lifecycle } from '../src/daemon/lifecycle.js'

const quiet = createLogger({ transports: [new transports.Console({ silent: true })] })

t.test('parts stop in the reverse order they started', async (t) => {
  const events: string[] = []
  const life = new Lifecycle(quiet)
  for (const name of ['store', 'engine', 'api']) {
    await life.start(name, () => { events.push(`start ${name}`); return name }, (part) => { events.push(`stop ${part}`) })
  }
  await life.stop()
  await life.stop()
  t.same(events, ['start store', 'start engine', 'start api', 'stop api', 'stop engine', 'stop store'], 'each part stopped once, last started first')
})

t.test('a part that fails to start stops the parts started before it, and the error reaches the caller', async (t) => {
  const events: string[] = []
  const life = new Lifecycle(quiet)
  await life.start('store', () => 'store', () => { events.push('stop store') })
  await life.start('engine', async () => 'engine', async () => { events.push('stop engine') })
  await t.rejects(life.start('api', () => { throw new Error('port taken') }, () => { events.push('stop api') }), /port taken/)
  t.same(events, ['stop engine', 'stop store'], 'the api never started, so it is not stopped')
})

t.test('a part that fails to stop does not keep the others running', async (t) => {
  const events: string[] = []
  const life = new Lifecycle(quiet)
  await life.start('store', () => 'store', () => { events.push('stop store') })
  await life.start('engine', () => 'engine', () => { throw new Error('stuck') })
  await life.stop()
  t.same(events, ['stop store'])
})
