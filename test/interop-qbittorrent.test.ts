import t from 'tap'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { fetchFromClient, torrentOfFixture } from '../testkit/client-interop.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { peerIdPrefix, peerOfClient, peersSeenUntil } from '../testkit/peers-seen.js'
import { runCli, waitFor } from '../testkit/process.js'
import { startQBittorrent, type QBittorrent } from '../testkit/qbittorrent.js'

const MiB = 1024 * 1024
const FILES = [{ path: 'pack/a.bin', size: 6 * MiB + 5 }, { path: 'pack/nested/b.bin', size: 3 * MiB }, { path: 'pack/c.txt', size: 1234 }]
const LENGTH = FILES.reduce((sum, file) => sum + file.size, 0)
const QBITTORRENT_PEER_ID = /^-qB[0-9A-Z]{4}-/

/** How qBittorrent sees its peers: the connection kind ("BT", "μTP") and flags ("E" encrypted …). */
async function qbittorrentPeers (qbittorrent: QBittorrent, infoHash: string): Promise<string[]> {
  const { peers } = await (await qbittorrent.api(`/sync/torrentPeers?hash=${infoHash}&rid=0`)).json() as { peers?: Record<string, { client?: string, connection?: string, flags?: string }> }
  return Object.entries(peers ?? {}).map(([address, peer]) => `${address} ${peer.connection ?? '?'} flags "${peer.flags ?? ''}" client "${peer.client ?? ''}"`)
}

t.test('qBittorrent downloads a multi-file torrent from bidtorrent', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  const torrentFile = join(work, 'pack.torrent')
  // An upload limit only so the connection lasts long enough to be seen in `peers`.
  const seeded = await runCli(['seed', join(work, 'source', 'pack'), '--upload-limit', '2MiB/s', '--save-torrent', torrentFile, '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash } = JSON.parse(seeded.stdout) as TorrentView

  const qbittorrent = await startQBittorrent(t, join(work, 'qbittorrent'))
  await qbittorrent.add(torrentFile, join(work, 'qb'))
  await waitFor('qBittorrent to list the torrent', () => qbittorrent.torrent(infoHash), 30_000)
  await qbittorrent.addPeer(infoHash, `127.0.0.1:${seeder.peerPort}`)
  const seenByQBittorrent = new Set<string>()
  const finished = waitFor('qBittorrent to complete the download', async () => {
    for (const line of await qbittorrentPeers(qbittorrent, infoHash)) seenByQBittorrent.add(line)
    const torrent = await qbittorrent.torrent(infoHash)
    return torrent && torrent.progress === 1 && torrent.amount_left === 0 ? torrent : undefined
  }, 300_000, 250)
  const seen = await peersSeenUntil(seeder, infoHash, finished)
  await finished
  t.same(await sameFiles(join(work, 'source'), join(work, 'qb'), FILES), [], 'qBittorrent\'s copy is byte-equal')
  const view = await seeder.torrent(infoHash)
  t.ok(view.uploaded >= LENGTH, `bidtorrent uploaded the whole torrent (${view.uploaded} bytes)`)
  t.comment(`qBittorrent's view of bidtorrent: ${[...seenByQBittorrent].join('; ')}`)
  const peer = peerOfClient(seen, QBITTORRENT_PEER_ID)
  t.ok(peer, `bidtorrent showed qBittorrent's connection in peers (${seen.map((found) => peerIdPrefix(found.peerId)).join(', ')})`)
  t.comment(`qBittorrent in bidtorrent's peers: peer id ${peerIdPrefix(peer?.peerId ?? '')}…, client "${peer?.client ?? ''}", ${peer?.direction ?? ''}`)
  t.match(peer?.client, /qBittorrent/, 'and names the client')
})

t.test('bidtorrent downloads from a qBittorrent seeder, by .torrent and by magnet', async (t) => {
  const fixture = await torrentOfFixture(t, FILES)
  const { work, meta, torrentFile } = fixture
  const qbittorrent = await startQBittorrent(t, join(work, 'qbittorrent'))
  await qbittorrent.add(torrentFile, join(work, 'source'))
  await waitFor('qBittorrent to check the data and seed it', async () => {
    const torrent = await qbittorrent.torrent(meta.infoHash)
    return torrent && torrent.progress === 1 && !torrent.state.startsWith('checking') ? torrent : undefined
  }, 120_000, 250)
  await fetchFromClient(t, fixture, FILES, {
    name: 'qBittorrent',
    peer: `127.0.0.1:${qbittorrent.port}`,
    peerId: QBITTORRENT_PEER_ID,
    client: /qBittorrent/,
    peers: async () => await qbittorrentPeers(qbittorrent, meta.infoHash),
    uploaded: async () => (await qbittorrent.torrent(meta.infoHash))?.uploaded ?? 0
  })
})
