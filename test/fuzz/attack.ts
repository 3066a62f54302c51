import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import Wire from 'bittorrent-protocol'
import { seedFile, startDaemon, tempDir, waitComplete, type Checked } from '../../testkit/daemon.js'
import { sameFiles } from '../../testkit/fixture.js'
import { MiB, marketDaemon } from '../../testkit/market.js'
import { newWallet } from '../../testkit/market-peer.js'
import { rssAnonBytes, runCli } from '../../testkit/process.js'
import { Random, nextMessage, type Target } from './messages.js'

export interface FuzzOptions {
  readonly messages: number
  /** Connections attacking at once. */
  readonly concurrency: number
  readonly seed: number
  /** How long the daemon sits idle before its memory is read, before the attack and after it. */
  readonly idleSeconds: number
  readonly log?: (line: string) => void
}

export interface FuzzReport {
  readonly seed: number
  readonly messagesSent: number
  readonly connections: number
  readonly seconds: number
  /** The daemon's process ended during the attack (0 is the goal). */
  readonly daemonExits: number
  readonly uncaughtExceptions: number
  readonly unhandledRejections: number
  /** The seeder's anonymous memory before, right after, and after sitting idle, bytes. */
  readonly memoryBefore: number
  readonly memoryAfter: number
  readonly memoryAfterIdle: number
  /** A clean leecher downloading during the attack, and another after it, completed byte-equal. */
  readonly cleanDuring: boolean
  readonly cleanAfter: boolean
  /** The seeder's own account of its memory at the end (process.memoryUsage), to see where it went. */
  readonly memoryUsageBefore: Record<string, number>
  readonly memoryUsage: Record<string, number> | null
}

type Faults = { uncaughtExceptions: number, unhandledRejections: number }

/** One attacking connection: a real handshake most of the time, then a burst of hostile messages. */
async function attackOnce (port: number, target: Target, random: Random, budget: number): Promise<number> {
  const socket: Socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  // Not events.once: it rejects on 'error', and a reset is what an attacker expects.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const connected = await Promise.race([new Promise<boolean>((resolve) => socket.once('connect', () => resolve(true))), closed.then(() => false)])
  if (!connected) return 0
  let sent = 0
  let extensionIds: Record<string, number> = {}
  if (random.next() < 0.05) {
    // Not BitTorrent at all, or an MSE-looking opening.
    socket.write(random.bytes(1 + random.int(1500)))
    sent++
  } else {
    const wire = new Wire()
    wire.on('error', () => socket.destroy())
    socket.pipe(wire).pipe(socket)
    const shaken = once(wire, 'extended').then(() => true, () => false)
    wire.handshake(random.next() < 0.95 ? target.infoHash : random.bytes(20).toString('hex'), randomBytes(20))
    const ok = await Promise.race([shaken, closed.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000))])
    if (ok) extensionIds = { ...wire.peerExtendedMapping }
    sent++
  }
  const local: Target = { ...target, extensionIds: Object.keys(extensionIds).length > 0 ? extensionIds : target.extensionIds }
  const burst = Math.min(budget, 1 + random.int(300))
  const chunks: Buffer[] = []
  for (let i = 0; i < burst; i++) chunks.push(nextMessage(random, local))
  if (!socket.destroyed) socket.write(Buffer.concat(chunks))
  sent += burst
  // Some wait for the daemon to answer or hang up; others leave at once, or linger silent.
  const linger = random.pick([0, 50, 200, 1000])
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, linger))])
  socket.destroy()
  return sent
}

/**
 * Attacks a real daemon (a market seller) over real TCP connections with `messages` hostile
 * messages, while a clean leecher downloads from it, then checks it is still up, what reached its
 * last-resort handlers, its memory, and that another clean leecher completes afterwards.
 */
export async function runFuzz (t: Checked, options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {})
  const { daemon: seeder, wallet: sellerWallet } = await marketDaemon(t, { args: ['--log-level', 'warn'] })
  const { work, files, torrent } = await seedFile(t, seeder, 'fuzzed.bin', 4 * MiB, ['--floor', '20BTT/MiB', '--upload-limit', '4MiB/s'])
  const pid = (await seeder.api.request<{ pid: number }>('GET', '/v1/status')).pid
  log(`seeder: pid ${pid}`)
  const target: Target = {
    pieceCount: torrent.pieceCount ?? 16,
    infoHash: torrent.infoHash,
    extensionIds: { ut_metadata: 1, ut_pex: 2, bt_bid: 3 },
    sellerWallet,
    wallet: newWallet()
  }
  const clean = async (name: string): Promise<boolean> => {
    const leecher = await startDaemon(t, { args: ['--log-level', 'warn'] })
    const out = join(await tempDir(t), name)
    const added = await runCli(['add', torrent.magnet, '--out', out, '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir])
    if (added.code !== 0) return false
    await waitComplete(leecher, torrent.infoHash, 300_000).catch(() => undefined)
    return (await sameFiles(join(work, 'source'), out, files)).length === 0
  }
  // The memory the attack is measured against is a seeder in service, one that has served a
  // download and then sat idle as long as it will after the attack; a daemon that has just made
  // its torrent and served nobody is not what an attacker finds.
  if (!await clean('warm-up')) throw new Error('the warm-up download, before any attack, did not complete')
  await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000))
  const memoryBefore = await rssAnonBytes(pid)
  log(`memory before the attack: ${(memoryBefore / 1e6).toFixed(0)} MB`)
  const memoryUsageBefore = (await seeder.api.request<{ memory: Record<string, number> }>('GET', '/v1/status')).memory
  const during = clean('during')
  const random = new Random(options.seed)
  const started = Date.now()
  let sent = 0
  let connections = 0
  let exits = 0
  let lastReport = 0
  while (sent < options.messages) {
    if (seeder.process.exitCode !== null || seeder.process.signalCode !== null) {
      exits++
      break
    }
    const wave = await Promise.all(Array.from({ length: options.concurrency }, () => attackOnce(seeder.peerPort, target, new Random(random.int(0x100000000)), options.messages - sent)))
    connections += wave.length
    sent += wave.reduce((sum, count) => sum + count, 0)
    if (sent - lastReport >= 50_000) {
      lastReport = sent
      log(`${sent} messages over ${connections} connections, seeder at ${((await rssAnonBytes(pid).catch(() => 0)) / 1e6).toFixed(0)} MB`)
    }
  }
  const seconds = (Date.now() - started) / 1000
  const alive = seeder.process.exitCode === null && seeder.process.signalCode === null
  if (!alive && exits === 0) exits++
  const memoryAfter = alive ? await rssAnonBytes(pid) : 0
  const faults = alive ? (await seeder.api.request<{ faults: Faults }>('GET', '/v1/status')).faults : { uncaughtExceptions: -1, unhandledRejections: -1 }
  const cleanDuring = await during
  await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000))
  const memoryAfterIdle = alive ? await rssAnonBytes(pid) : 0
  log(`memory after the attack and ${options.idleSeconds} s idle: ${(memoryAfterIdle / 1e6).toFixed(0)} MB`)
  const cleanAfter = alive && await clean('after')
  const memoryUsage = alive ? (await seeder.api.request<{ memory: Record<string, number> }>('GET', '/v1/status')).memory : null
  return { seed: options.seed, messagesSent: sent, connections, seconds, daemonExits: exits, ...faults, memoryBefore, memoryAfter, memoryAfterIdle, cleanDuring, cleanAfter, memoryUsageBefore, memoryUsage }
}
