import t from 'tap'
import { join } from 'node:path'
import { Client as DHT } from 'bittorrent-dht'
import type { TorrentView } from '../src/api/types.js'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli, waitFor } from '../testkit/process.js'

const FILES = [{ path: 'dht.bin', size: 6 * 1024 * 1024 }]

t.test('a magnet link with no peers and no trackers is resolved through the DHT (BEP 5)', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  // A private DHT on 127.0.0.1: this node is the bootstrap node both daemons join.
  const bootstrap = new DHT({ bootstrap: false, host: '127.0.0.1' })
  await new Promise<void>((resolve) => bootstrap.listen(0, resolve))
  t.teardown(() => new Promise<void>((resolve) => bootstrap.destroy(resolve)))
  const env = { BIDTORRENT_DHT_BOOTSTRAP: JSON.stringify([`127.0.0.1:${bootstrap.address()!.port}`]) }
  const seeder = await startDaemon(t, { dht: true, env })
  const seeded = await runCli(['seed', join(work, 'source', 'dht.bin'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash } = JSON.parse(seeded.stdout) as TorrentView

  // Wait until the seeder's announce is in the DHT, as any node would see it.
  let announced = false
  bootstrap.on('peer', (peer: { port: number }, hash: Buffer) => {
    if (hash.toString('hex') === infoHash && peer.port === seeder.peerPort) announced = true
  })
  await waitFor('the seeder to appear in the DHT', () => {
    if (!announced) bootstrap.lookup(infoHash)
    return announced || undefined
  }, 90_000, 1000)

  const leecher = await startDaemon(t, { dht: true, env })
  const added = await runCli(['add', `magnet:?xt=urn:btih:${infoHash}`, '--out', join(work, 'out'), '--data-dir', leecher.dataDir])
  t.equal(added.code, 0, added.stderr)
  const done = await waitComplete(leecher, infoHash, 180_000)
  t.equal(done.name, 'dht.bin', 'the metadata came from the peer found in the DHT')
  t.same(await sameFiles(join(work, 'source'), join(work, 'out'), FILES), [], 'byte-equal')
})
