import t from 'tap'
import { join } from 'node:path'
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { loadSettings } from '../src/config/settings.js'
import { isUsd } from '../src/money/price.js'
import { PROJECT_ROOT } from '../src/util/project.js'

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

t.test('market settings: prices and amounts with units, exact in bigint, validated', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bidtorrent-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const defaults = loadSettings({ dataDir: dir, env: {} })
  t.equal(defaults.marketFloor, 0n, 'no floor: a torrent sells nothing unless asked to')
  t.same(defaults.paymentThreshold, { usd: 5n * 10n ** 14n }, 'the money defaults are in USD: 0.0005 USD')
  t.same(defaults.embeddedCreditCap, { usd: 5n * 10n ** 18n }, 'a 5 USD credit cap on the embedded backend')
  t.equal(defaults.usdPerBtt, '0.0000006', 'at the BTT price of 2025–26')
  const usd = loadSettings({ dataDir: dir, env: { BIDTORRENT_CHANNEL_DEPOSIT: '0.25USD', BIDTORRENT_MARKET_FLOOR: '0.01USD/GiB' } })
  t.same(usd.channelDeposit, { usd: 25n * 10n ** 16n }, 'a deposit in USD')
  t.ok(isUsd(usd.marketFloor), 'a floor in USD')
  t.throws(() => loadSettings({ dataDir: dir, env: { BIDTORRENT_CHANNEL_DEPOSIT: '0USD' } }), /channelDeposit: must be above zero/)
  t.equal(defaults.marketReservedShare, 0.25)
  const priced = loadSettings({ dataDir: dir, env: { BIDTORRENT_MARKET_FLOOR: '2BTT/GiB', BIDTORRENT_EMBEDDED_CREDIT_CAP: '123456789012345678901234' } })
  t.equal(priced.marketFloor, 2n * 10n ** 18n / 1024n, '2 BTT a GiB, per MiB')
  t.equal(priced.embeddedCreditCap, 123456789012345678901234n, 'base units past 2^53, as a string, exactly')
  t.throws(() => loadSettings({ dataDir: dir, env: { BIDTORRENT_MARKET_FLOOR: 'cheap' } }), /marketFloor: invalid price "cheap"/)
  t.throws(() => loadSettings({ dataDir: dir, env: { BIDTORRENT_PAYMENT_THRESHOLD: '0' } }), /paymentThreshold: must be above zero/)
  await writeFile(join(dir, 'config.json'), '{"embeddedCreditCap": 100000000000000000000}')
  t.throws(() => loadSettings({ dataDir: dir, env: {} }), /as strings/, 'a JSON number that lost digits is refused')
  await rm(join(dir, 'config.json'))
  t.throws(() => loadSettings({ dataDir: dir, env: { BIDTORRENT_MARKET_RESERVED_SHARE: '1.5' } }), /marketReservedShare/)
  t.throws(() => loadSettings({ dataDir: dir, env: { BIDTORRENT_MARKET_CLEARING: 'vickrey' } }), /marketClearing/)
  t.throws(() => loadSettings({ dataDir: dir, env: { BIDTORRENT_MARKET_FLOOR: '0.0000000000000000001BTT/MiB' } }), /more than 18 decimals/)
})

t.test('docs/configuration.md explains every setting in config/default.json', async (t) => {
  const defaults = JSON.parse(await readFile(join(PROJECT_ROOT, 'config', 'default.json'), 'utf8')) as Record<string, unknown>
  const documented = await readFile(join(PROJECT_ROOT, 'docs', 'configuration.md'), 'utf8')
  const missing = Object.keys(defaults).filter((key) => !documented.includes(`| \`${key}\` |`))
  t.same(missing, [], 'each setting has its row')
})

t.test('the example file in docs/configuration.md loads as it is written', async (t) => {
  const documented = await readFile(join(PROJECT_ROOT, 'docs', 'configuration.md'), 'utf8')
  const example = /```json\n([\s\S]*?)```/.exec(documented)?.[1]
  t.ok(example, 'the example is there')
  const dir = await mkdtemp(join(tmpdir(), 'bidtorrent-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'config.json')
  await writeFile(file, example!)
  const settings = loadSettings({ dataDir: dir, env: {}, configFile: file })
  t.equal(settings.apiPort, 7070, 'its values are taken')
  t.equal(settings.watchFolder, '/srv/torrents/watch')
})
