import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Engine } from '../src/engine/engine.js'
import { createTorrentFrom } from '../src/engine/create.js'
import { standardChoker } from '../src/choker/standard.js'
import { engineSettingsFrom } from '../src/engine/settings-from-config.js'
import { loadSettings } from '../src/config/settings.js'
import { createLogger } from '../src/daemon/logger.js'

const dir = mkdtempSync(join(tmpdir(), 'bt-smoke-'))
mkdirSync(join(dir, 'seed', 'content'), { recursive: true })
const size = Number(process.argv[2] ?? 64) * 1024 * 1024
writeFileSync(join(dir, 'seed', 'content', 'a.bin'), randomBytes(size))
writeFileSync(join(dir, 'seed', 'content', 'b.txt'), 'hello\n')
const settings = engineSettingsFrom(loadSettings({ dataDir: dir, overrides: { port: 0, dht: false, lsd: false, logLevel: 'warn', logFormat: 'pretty' } }))
const parts = { chokeAlgorithm: standardChoker, random: Math.random, now: Date.now }
const log = createLogger({ logLevel: 'warn', logFormat: 'pretty' })
const seeder = new Engine(settings, parts, log)
const leecher = new Engine(settings, parts, log)
await seeder.start(); await leecher.start()
let t0 = Date.now()
const meta = await createTorrentFrom(join(dir, 'seed', 'content'))
console.log('created in', Date.now() - t0, 'ms', meta.pieceLength, meta.pieceCount)
await seeder.add({ meta, directory: join(dir, 'seed') })
t0 = Date.now()
const torrent = await leecher.add({ magnet: { infoHash: meta.infoHash, announce: [], peerAddresses: [`127.0.0.1:${seeder.listenPort}`] }, directory: join(dir, 'leech') })
const cpu0 = process.cpuUsage()
await new Promise<void>((resolve) => torrent.once('done', resolve))
const secs = (Date.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
console.log('downloaded in', secs, 's', (size / 1048576 / secs).toFixed(1), 'MiB/s', 'cpu(both)', ((cpu.user + cpu.system) / 1e6).toFixed(2), 's', torrent.status().wasted)
console.log('equal', readFileSync(join(dir, 'leech', 'content', 'a.bin')).equals(readFileSync(join(dir, 'seed', 'content', 'a.bin'))))
await seeder.stop(); await leecher.stop()
