import t from 'tap'
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { writeFixture } from '../testkit/fixture.js'
import { runCli, waitFor } from '../testkit/process.js'

/** A peer that sends its handshake, reads the daemon's, and goes. */
async function greetAndLeave (port: number, infoHash: string): Promise<void> {
  const handshake = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(8), Buffer.from(infoHash, 'hex'), Buffer.from(`-XX0001-${randomBytes(6).toString('hex')}`)])
  await new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(handshake))
    const done = (): void => { socket.destroy(); resolve() }
    socket.once('data', done)
    socket.once('error', done)
    socket.setTimeout(5000, done)
  })
}

const MAX_BYTES = 16 * 1024
const KEPT = 3

t.test('logFile rolls over at logFileMaxSize and keeps logFilesKept files, the newest lines in logFile itself', async (t) => {
  const logs = await tempDir(t, 'bidtorrent-logs-')
  const logFile = join(logs, 'daemon.log')
  const env = { BIDTORRENT_LOG_FILE: logFile, BIDTORRENT_LOG_FILE_MAX_SIZE: '16KiB', BIDTORRENT_LOG_FILES_KEPT: String(KEPT), BIDTORRENT_LOG_LEVEL: 'debug' }
  const daemon = await startDaemon(t, { env })
  const work = await tempDir(t)
  await writeFixture(work, [{ path: 'patch.bin', size: 64 * 1024 }])
  const seeded = await runCli(['seed', join(work, 'patch.bin'), '--data-dir', daemon.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash } = JSON.parse(seeded.stdout) as TorrentView
  // Each peer that connects is a debug line: a few hundred of them roll the file over several times.
  let connections = 0
  await waitFor('the log to roll over past the files kept', async () => {
    for (let i = 0; i < 50; i++, connections++) await greetAndLeave(daemon.peerPort, infoHash)
    const names = await readdir(logs)
    return names.length >= KEPT && connections >= 600 ? names : undefined
  }, 300_000, 0)
  const names = (await readdir(logs)).sort()
  t.same(names, ['daemon.log', 'daemon1.log', 'daemon2.log'], `${KEPT} files kept, the rest deleted`)
  for (const name of names) {
    const path = join(logs, name)
    t.ok((await stat(path)).size <= MAX_BYTES + 4096, `${name} is within the size (one line may cross it)`)
    const lines = (await readFile(path, 'utf8')).split('\n').filter((line) => line.length > 0)
    t.ok(lines.length > 0 && lines.every((line) => { try { JSON.parse(line); return true } catch { return false } }), `${name}: whole JSON lines`)
  }
  const newest = (await readFile(logFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { timestamp: string })
  const older = (await readFile(join(logs, 'daemon1.log'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { timestamp: string })
  t.ok(newest.at(-1)!.timestamp >= older.at(-1)!.timestamp, 'the newest lines are in logFile, older ones in daemon1.log')
})

t.test('a log size below 16KiB is refused at start, with the setting named', async (t) => {
  const logs = await tempDir(t, 'bidtorrent-logs-')
  const started = await runCli(['daemon', '--data-dir', await tempDir(t), '--port', '0', '--api-port', '0', '--no-dht', '--no-lsd'], { BIDTORRENT_LOG_FILE: join(logs, 'd.log'), BIDTORRENT_LOG_FILE_MAX_SIZE: '1KiB' })
  t.not(started.code, 0, 'the daemon does not start')
  t.match(started.stderr, /logFileMaxSize/, started.stderr)
})
