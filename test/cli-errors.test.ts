import t, { type Test } from 'tap'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { runCli } from '../testkit/process.js'

function oneLine (t: Test, stderr: string, pattern: RegExp): void {
  t.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr.trim()}`)
  t.match(stderr, pattern)
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
}

t.test('bad arguments and an unreachable daemon give one clear line and a non-zero exit', async (t) => {
  const dir = await tempDir(t)
  const noDaemon = await runCli(['ls', '--data-dir', dir])
  t.not(noDaemon.code, 0)
  oneLine(t, noDaemon.stderr, /no daemon is running/)

  const unknownFlag = await runCli(['add', '--bogus'])
  t.equal(unknownFlag.code, 2)
  oneLine(t, unknownFlag.stderr, /unknown option '--bogus'/)

  const badPort = await runCli(['daemon', '--data-dir', dir, '--port', 'seventy'])
  t.equal(badPort.code, 2)
  oneLine(t, badPort.stderr, /--port/)

  const badRate = await runCli(['daemon', '--data-dir', dir, '--upload-limit', 'fast'])
  t.equal(badRate.code, 2)
  oneLine(t, badRate.stderr, /invalid rate "fast"/)

  await writeFile(join(dir, 'config.json'), '{ "port": ')
  const corruptConfig = await runCli(['daemon', '--data-dir', dir])
  t.not(corruptConfig.code, 0)
  oneLine(t, corruptConfig.stderr, /not valid JSON/)

  await writeFile(join(dir, 'config.json'), '{ "uploadSlots": 0 }')
  const invalidConfig = await runCli(['daemon', '--data-dir', dir])
  t.not(invalidConfig.code, 0)
  oneLine(t, invalidConfig.stderr, /uploadSlots/)
})

t.test('a malformed magnet link or a corrupt .torrent is refused clearly and the daemon carries on', async (t) => {
  const dir = await tempDir(t)
  const daemon = await startDaemon(t)
  const badMagnet = await runCli(['add', 'magnet:?xt=urn:btih:nothex', '--data-dir', daemon.dataDir])
  t.equal(badMagnet.code, 1)
  oneLine(t, badMagnet.stderr, /malformed magnet link/)

  const corrupt = join(dir, 'corrupt.torrent')
  await writeFile(corrupt, 'd8:announce3:foo4:infod4:name')
  const badTorrent = await runCli(['add', corrupt, '--data-dir', daemon.dataDir])
  t.equal(badTorrent.code, 1)
  oneLine(t, badTorrent.stderr, /not a valid \.torrent file/)

  const traversal = join(dir, 'evil.torrent')
  const bencode = (await import('bencode')).default
  await writeFile(traversal, bencode.encode({
    info: { name: 'x', 'piece length': 16384, pieces: Buffer.alloc(20), files: [{ length: 10, path: ['..', '..', 'etc', 'passwd'] }] }
  }))
  const escaped = await runCli(['add', traversal, '--data-dir', daemon.dataDir])
  t.equal(escaped.code, 1)
  oneLine(t, escaped.stderr, /unsafe or missing path component/)

  const missing = await runCli(['add', join(dir, 'nope.torrent'), '--data-dir', daemon.dataDir])
  t.equal(missing.code, 2)
  oneLine(t, missing.stderr, /neither a magnet link nor an existing \.torrent file/)

  const unknown = await runCli(['info', 'deadbeef', '--data-dir', daemon.dataDir])
  t.equal(unknown.code, 1)
  oneLine(t, unknown.stderr, /no torrent matches "deadbeef"/)

  const status = await runCli(['status', '--data-dir', daemon.dataDir, '--json'])
  t.equal(status.code, 0, 'the daemon is still up')
})

t.test('a second daemon on the same data directory or the same peer port is refused with one line', async (t) => {
  const first = await startDaemon(t)
  const sameDir = await runCli(['daemon', '--data-dir', first.dataDir, '--port', '0', '--no-dht', '--no-lsd'])
  t.equal(sameDir.code, 1)
  oneLine(t, sameDir.stderr, /another bidtorrent daemon is already using this data directory/)
  const dir = await tempDir(t)
  const samePort = await runCli(['daemon', '--data-dir', dir, '--port', String(first.peerPort), '--no-dht', '--no-lsd', '--log-level', 'error'])
  t.equal(samePort.code, 1)
  oneLine(t, samePort.stderr, /the port is in use/)
  t.equal((await first.api.request<{ peerPort: number }>('GET', '/v1/status')).peerPort, first.peerPort, 'the first daemon is unaffected')
})
