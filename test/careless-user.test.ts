import { execFileSync } from 'node:child_process'
import { mkdir, readdir, symlink, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { TorrentView } from '../src/api/types.js'
import { BIN, BIN_NODE_FLAGS, stopChild } from '../src/dev/processes.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { writeFixture } from '../testkit/fixture.js'
import { run, runCli, waitFor } from '../testkit/process.js'

t.test('seed refuses what is not data, before it walks or hashes: /, system folders, devices, FIFOs, link loops, empty folders, past the limits', async (t) => {
  const daemon = await startDaemon(t, { env: { BIDTORRENT_SEED_MAX_FILES: '3' } })
  const work = await tempDir(t)
  await mkdir(join(work, 'empty'))
  execFileSync('mkfifo', [join(work, 'a-fifo')])
  await writeFixture(join(work, 'with-fifo'), [{ path: 'ok.bin', size: 1000 }])
  execFileSync('mkfifo', [join(work, 'with-fifo', 'pipe')])
  await writeFixture(join(work, 'loop'), [{ path: 'ok.bin', size: 1000 }])
  await symlink(join(work, 'loop'), join(work, 'loop', 'back'))
  await writeFixture(join(work, 'many'), [1, 2, 3, 4].map((n) => ({ path: `f${n}.bin`, size: 1000 })))
  const cases: Array<[string, RegExp]> = [
    ['/', /the root of the filesystem/],
    ['/proc/self', /\/proc holds the system's files/],
    ['/dev/zero', /\/dev holds the system's files/],
    [join(work, 'a-fifo'), /not a regular file or a folder/],
    [join(work, 'with-fifo'), /pipe is not a regular file/],
    [join(work, 'loop'), /links back to a folder above it/],
    [join(work, 'empty'), /holds no files to seed/],
    [join(work, 'many'), /more than 3 files \(setting seedMaxFiles\)/],
    [join(work, 'missing'), /no such file or folder/]
  ]
  for (const [path, message] of cases) {
    const seeded = await runCli(['seed', path, '--data-dir', daemon.dataDir])
    t.equal(seeded.code, 1, `${path}: refused`)
    t.match(seeded.stderr, message, `${path}: ${seeded.stderr.trim()}`)
  }
  t.equal((await daemon.api.request<TorrentView[]>('GET', '/v1/torrents')).length, 0, 'nothing was added')
})

t.test('seeding a large file keeps the API answering, and stops when the CLI that asked has gone', async (t) => {
  const daemon = await startDaemon(t)
  const work = await tempDir(t)
  const big = join(work, 'big.bin')
  await writeFile(big, '')
  await truncate(big, 6 * 1024 ** 3)
  const { spawn } = await import('node:child_process')
  const cli = spawn(process.execPath, [...BIN_NODE_FLAGS, BIN, 'seed', big, '--data-dir', daemon.dataDir], { stdio: 'ignore' })
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const started = Date.now()
  await daemon.api.request('GET', '/v1/status')
  t.ok(Date.now() - started < 2000, `the API answered while the file was being hashed (${Date.now() - started} ms)`)
  await stopChild(cli, 'SIGINT')
  // Had the hashing gone on, 6 GiB would take many seconds more; cancelled, no torrent appears.
  await new Promise((resolve) => setTimeout(resolve, 8000))
  t.equal((await daemon.api.request<TorrentView[]>('GET', '/v1/torrents')).length, 0, 'the seed stopped with its caller: no torrent was added')
})

t.test('small things a careless user meets get clear errors', async (t) => {
  const daemon = await startDaemon(t)
  const short = await runCli(['add', `magnet:?xt=urn:btih:${'a'.repeat(39)}`, '--data-dir', daemon.dataDir])
  t.equal(short.code, 1)
  t.match(short.stderr, /btih info hash "a{39}" is not 40 hex digits/, 'a magnet with 39 hex digits is refused, not read as 000…0')
  const endpoint = JSON.parse(await (await import('node:fs/promises')).readFile(join(daemon.dataDir, 'api.json'), 'utf8')) as { url: string, token: string }
  const response = await fetch(`${endpoint.url}/v1/torrents/%E0%A4%A`, { headers: { authorization: `Bearer ${endpoint.token}` } })
  t.equal(response.status, 400, 'a malformed %-encoding in an API path is a 400, not a 500')

  const dir = await tempDir(t)
  await writeFile(join(dir, 'a-file'), '')
  const refused = await run(process.execPath, [...BIN_NODE_FLAGS, BIN, 'daemon', '--data-dir', join(dir, 'data'), '--port', '0', '--api-port', '0', '--no-dht', '--no-lsd'],
    { BIDTORRENT_DOWNLOAD_DIR: join(dir, 'a-file', 'downloads') })
  t.equal(refused.code, 1, 'a download directory that cannot be written stops the daemon at start')
  t.match(refused.stderr, /the download directory .* cannot be written to/, 'saying so')
})

t.test('a daemon whose state cannot be read exits non-zero with what to do, and does not run on without an API', async (t) => {
  const dataDir = await tempDir(t)
  const work = await tempDir(t)
  await writeFixture(work, [{ path: 'f.bin', size: 200_000 }])
  // Two runs, so that LevelDB writes its log out to a table file.
  for (let runs = 0; runs < 2; runs++) {
    const daemon = await startDaemon(t, { dataDir })
    if (runs === 0) t.equal((await runCli(['seed', join(work, 'f.bin'), '--data-dir', dataDir])).code, 0)
    await daemon.stop()
  }
  const table = (await readdir(join(dataDir, 'state'))).find((name) => name.endsWith('.ldb'))
  t.ok(table, `a table file to damage (${table})`)
  await truncate(join(dataDir, 'state', table!), 100)
  const started = Date.now()
  const result = await run(process.execPath, [...BIN_NODE_FLAGS, BIN, 'daemon', '--data-dir', dataDir, '--port', '0', '--api-port', '0', '--no-dht', '--no-lsd'])
  t.equal(result.code, 1, 'it exits 1')
  t.ok(Date.now() - started < 30_000, 'at once, not after a supervisor gives up on it')
  t.match(result.stderr, /cannot read the daemon's state in .*state .*restore that folder from a backup, or move it aside/, 'and says what to do')
  await waitFor('no api.json left behind', async () => ((await readdir(dataDir)).includes('api.json') ? undefined : true), 5000)
})
