import t from 'tap'
import { join } from 'node:path'
import type { PeerInfo } from '../src/api/types.js'
import { torrentOfFixture } from '../testkit/client-interop.js'
import { startLibtorrent } from '../testkit/clients.js'
import { startDaemon, tempDir, waitComplete, type Checked, type RunningDaemon } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli, waitFor } from '../testkit/process.js'

const MiB = 1024 * 1024
const FILES = [{ path: 'enc/data.bin', size: 4 * MiB + 7 }]

/** A libtorrent seeder with `args`, a daemon with `env` calling it; resolves with the peer it connected to. */
async function callLibtorrent (t: Checked, ltArgs: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ leecher: RunningDaemon, infoHash: string, work: string, ltPort: number }> {
  const { work, meta, torrentFile } = await torrentOfFixture(t, FILES)
  const libtorrent = await startLibtorrent(t, ['--mode', 'seed', '--torrent', torrentFile, '--save', join(work, 'source'), ...ltArgs])
  const leecher = await startDaemon(t, { env })
  const added = await runCli(['add', torrentFile, '--out', join(work, 'bt'), '--peer', `127.0.0.1:${libtorrent.port}`, '--data-dir', leecher.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  return { leecher, infoHash: meta.infoHash, work, ltPort: libtorrent.port }
}

async function firstPeer (daemon: RunningDaemon, infoHash: string): Promise<PeerInfo> {
  return await waitFor('a connected peer', async () => (await daemon.api.request<PeerInfo[]>('GET', `/v1/torrents/${infoHash}/peers`))[0], 60_000)
}

t.test('bidtorrent calls a libtorrent seeder that requires encryption (MSE), with a plaintext or an RC4 payload', async (t) => {
  for (const [level, expected] of [['forced-any', 'handshake'], ['forced-rc4', 'rc4']] as const) {
    const { leecher, infoHash, work } = await callLibtorrent(t, ['--encryption', level])
    const peer = await firstPeer(leecher, infoHash)
    t.equal(peer.encryption, expected, `${level}: the connection is encrypted (${expected})`)
    const done = await waitComplete(leecher, infoHash)
    t.equal(done.hashFailures, 0)
    t.same(await sameFiles(join(work, 'source'), join(work, 'bt'), FILES), [], `${level}: byte-equal`)
  }
})

t.test('a peer that takes only plaintext closes the encrypted call; bidtorrent calls again in plaintext', async (t) => {
  const { leecher, infoHash, work } = await callLibtorrent(t, ['--plaintext'])
  const peer = await firstPeer(leecher, infoHash)
  t.equal(peer.encryption, 'none', 'connected in plaintext after the encrypted attempt')
  await waitComplete(leecher, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'bt'), FILES), [], 'byte-equal')
})

t.test('encryption set to plaintext cannot reach a peer that requires it, and says so', async (t) => {
  const { leecher, infoHash, ltPort } = await callLibtorrent(t, ['--encryption', 'forced-any'], { BIDTORRENT_ENCRYPTION: 'plaintext' })
  const unreachable = await waitFor('the failed call', async () => (await leecher.torrent(infoHash)).unreachablePeers[0], 60_000)
  t.equal(unreachable.address, `127.0.0.1:${ltPort}`)
  t.match(unreachable.reason, /closed|reset/i, `why: ${unreachable.reason}`)
})

t.test('a daemon that requires encryption and a default one exchange over MSE; a plaintext-only daemon is refused by it', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t, { env: { BIDTORRENT_ENCRYPTION: 'require', BIDTORRENT_ENCRYPT_PAYLOAD: 'true' } })
  const seeded = await runCli(['seed', join(work, 'source', 'enc'), '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash, magnet } = JSON.parse(seeded.stdout) as { infoHash: string, magnet: string }
  const leecher = await startDaemon(t)
  await runCli(['add', magnet, '--out', join(work, 'bt'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir])
  const peer = await firstPeer(leecher, infoHash)
  t.equal(peer.encryption, 'rc4', 'the payload is RC4, as the seeder requires')
  await waitComplete(leecher, infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'bt'), FILES), [], 'byte-equal')
  const plain = await startDaemon(t, { env: { BIDTORRENT_ENCRYPTION: 'plaintext' } })
  await runCli(['add', magnet, '--out', join(work, 'plain'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', plain.dataDir])
  const refused = await waitFor('the refused call', async () => (await plain.torrent(infoHash)).unreachablePeers[0], 60_000)
  t.match(refused.reason, /closed|reset/i, `the plaintext daemon is turned away (${refused.reason})`)
})
