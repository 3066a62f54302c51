import { parseArgs } from 'node:util'
import { CleanupStack } from '../../bench/lib/cleanup.js'
import { runFuzz } from './attack.js'

/**
 * `npm run fuzz -- --messages 1000000`: attacks a real daemon and says how it held up (the goal:
 * no exit, no uncaught exception, clean downloads during and after, memory back within 20%).
 */
async function main (): Promise<void> {
  const { values } = parseArgs({ options: { messages: { type: 'string' }, concurrency: { type: 'string' }, seed: { type: 'string' }, idle: { type: 'string' } } })
  const messages = Number(values.messages ?? 100_000)
  const concurrency = Number(values.concurrency ?? 20)
  const seed = Number(values.seed ?? Math.floor(Math.random() * 0x100000000))
  const idleSeconds = Number(values.idle ?? 60)
  if (![messages, concurrency, seed, idleSeconds].every(Number.isSafeInteger) || messages < 1 || concurrency < 1) throw new Error('--messages and --concurrency take whole numbers from 1, --seed and --idle whole numbers')
  const cleanup = new CleanupStack()
  const checked = Object.assign(cleanup, { equal: (found: unknown, wanted: unknown, message: string) => { if (found !== wanted) throw new Error(`${message}: ${String(found)}`) } })
  try {
    console.log(`fuzz: ${messages} messages, ${concurrency} connections at a time, seed ${seed}`)
    const report = await runFuzz(checked, { messages, concurrency, seed, idleSeconds, log: (line) => console.log(line) })
    const growth = report.memoryAfterIdle / report.memoryBefore - 1
    console.log(JSON.stringify(report, null, 2))
    const goals = [
      ['daemon exits', report.daemonExits === 0, String(report.daemonExits)],
      ['uncaught exceptions and unhandled rejections', report.uncaughtExceptions === 0 && report.unhandledRejections === 0, `${report.uncaughtExceptions} + ${report.unhandledRejections}`],
      ['a clean download during the attack', report.cleanDuring, String(report.cleanDuring)],
      ['a clean download after it', report.cleanAfter, String(report.cleanAfter)],
      ['memory after idling, against the start', growth <= 0.2, `${(report.memoryBefore / 1e6).toFixed(0)} → ${(report.memoryAfter / 1e6).toFixed(0)} → ${(report.memoryAfterIdle / 1e6).toFixed(0)} MB (${(growth * 100).toFixed(0)}%)`]
    ] as const
    for (const [what, met, measured] of goals) console.log(`  ${met ? 'met' : 'NOT MET'}  ${what}: ${measured}`)
    if (!goals.every(([, met]) => met)) process.exitCode = 1
  } finally {
    await cleanup.run()
  }
}

main().catch((err: unknown) => {
  console.error(`fuzz: error: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
})
