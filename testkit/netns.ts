import { randomInt } from 'node:crypto'
import { run, type Cleanup } from './process.js'

/**
 * A network namespace joined to this one by a veth pair, on addresses that exist only on the
 * pair: for clients that will not talk to 127.0.0.1 (Transmission), or links shaped with `tc`.
 * Created and removed by the test (it needs root, as CI has).
 */
export interface NamespaceLink {
  readonly namespace: string
  /** This side's address (the root namespace end of the pair). */
  readonly hostAddress: string
  /** The namespace's address. */
  readonly namespaceAddress: string
  /** This side's interface (for `tc`). */
  readonly hostInterface: string
  readonly namespaceInterface: string
  /** `command args` run inside the namespace. */
  exec (command: string, args: readonly string[]): { command: string, args: string[] }
}

async function ip (args: readonly string[]): Promise<void> {
  const result = await run('ip', args)
  if (result.code !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim()}`)
}

export async function createNamespaceLink (t: Cleanup): Promise<NamespaceLink> {
  const tag = `${process.pid % 10_000}${randomInt(100, 999)}`
  const namespace = `btns${tag}`
  const hostInterface = `bth${tag}`
  const namespaceInterface = `btn${tag}`
  // 10.213.x.y/30: a subnet of its own per test, on interfaces that vanish with the namespace.
  const base = randomInt(0, 16_000) * 4
  const subnet = `10.213.${Math.floor(base / 256)}`
  const hostAddress = `${subnet}.${(base % 256) + 1}`
  const namespaceAddress = `${subnet}.${(base % 256) + 2}`
  await ip(['netns', 'add', namespace])
  t.teardown(async () => {
    // Deleting the namespace deletes its end of the pair, and with it ours.
    await run('ip', ['netns', 'del', namespace])
    await run('ip', ['link', 'del', hostInterface])
  })
  await ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', namespaceInterface])
  await ip(['link', 'set', namespaceInterface, 'netns', namespace])
  await ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostInterface])
  await ip(['link', 'set', hostInterface, 'up'])
  await ip(['netns', 'exec', namespace, 'ip', 'addr', 'add', `${namespaceAddress}/30`, 'dev', namespaceInterface])
  await ip(['netns', 'exec', namespace, 'ip', 'link', 'set', namespaceInterface, 'up'])
  await ip(['netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up'])
  return {
    namespace,
    hostAddress,
    namespaceAddress,
    hostInterface,
    namespaceInterface,
    exec: (command, args) => ({ command: 'ip', args: ['netns', 'exec', namespace, command, ...args] })
  }
}
