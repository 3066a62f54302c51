import t from 'tap'
import { join } from 'node:path'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { loadSettings } from '../src/config/settings.js'

t.test('defaults < config file < environment < flags, validated once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bidtorrent-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const defaults = loadSettings({ dataDir: dir, env: {} })
  t.equal(defaults.port, 6881)
  t.equal(defaults.uploadLimit, 0)
  t.equal(defaults.pieceCacheSize, 16 * 1024 * 1024)

  await writeFile(join(dir, 'config.json'), JSON.stringify({ port: 7000, uploadLimit: '1MiB/s', dht: false }))
  const fromFile = loadSettings({ dataDir: dir, env: {} })
  t.equal(fromFile.port, 7000)
  t.equal(fromFile.uploadLimit, 1024 * 1024)
  t.equal(fromFile.dht, false)

  const fromEnv = loadSettings({ dataDir: dir, env: { BIDTORRENT_PORT: '7100', BIDTORRENT_UPLOAD_LIMIT: '2MiB/s' } })
  t.equal(fromEnv.port, 7100)
  t.equal(fromEnv.uploadLimit, 2 * 1024 * 1024)

  const fromFlags = loadSettings({ dataDir: dir, env: { BIDTORRENT_PORT: '7100' }, overrides: { port: 7200 } })
  t.equal(fromFlags.port, 7200)
})

t.test('bad configuration is refused with a message that names the problem', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bidtorrent-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'config.json'), '{"port": 70000}')
  t.throws(() => loadSettings({ dataDir: dir, env: {} }), /port: Too big/)
  await writeFile(join(dir, 'config.json'), '{"prot": 1}')
  t.throws(() => loadSettings({ dataDir: dir, env: {} }), /unknown setting "prot"/)
  await writeFile(join(dir, 'config.json'), '[1, 2]')
  t.throws(() => loadSettings({ dataDir: dir, env: {} }), /must hold a JSON object/)
  t.throws(() => loadSettings({ dataDir: dir, configFile: join(dir, 'missing.json'), env: {} }), /does not exist/)
  await rm(join(dir, 'config.json'))
  t.throws(() => loadSettings({ dataDir: dir, env: { BIDTORRENT_MAX_PEERS_PER_TORRENT: '"many"' } }), /maxPeersPerTorrent/)
})
