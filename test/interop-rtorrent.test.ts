import t from 'tap'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { fetchFromClient, torrentOfFixture } from '../testkit/client-interop.js'
import { startDaemon, tempDir } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { peerIdPrefix, peerOfClient, peersSeenUntil } from '../testkit/peers-seen.js'
import { runCli, waitFor } from '../testkit/process.js'
import { rtorrentAddPeer, rtorrentDownload, rtorrentPeers, startRtorrent } from '../testkit/rtorrent.js'

const MiB = 1024 * 1024
const FILES = [{ path: 'pack/a.bin', size: 6 * MiB + 5 }, { path: 'pack/nested/b.bin', size: 3 * MiB }, { path: 'pack/c.txt', size: 1234 }]
const LENGTH = FILES.reduce((sum, file) => sum + file.size, 0)
// rakshasa's libtorrent names itself in its peer id ("-lt0D80-" for 0.13.8), as Azureus-style ids do.
const RTORRENT_PEER_ID = /^-lt[0-9A-Z]{4}-/

t.test('rtorrent downloads a multi-file torrent from bidtorrent', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  const torrentFile = join(work, 'pack.torrent')
  // An upload limit only so the connection lasts long enough to be seen in `peers`.
  const seeded = await runCli(['seed', join(work, 'source', 'pack'), '--upload-limit', '2MiB/s', '--save-torrent', torrentFile, '--data-dir', seeder.dataDir, '--json'])
  t.equal(seeded.code, 0, seeded.stderr)
  const { infoHash } = JSON.parse(seeded.stdout) as TorrentView

  const rtorrent = await startRtorrent(t, join(work, 'rtorrent'), join(work, 'rt'))
  await rtorrent.add(torrentFile)
  await rtorrentAddPeer(rtorrent, infoHash, `127.0.0.1:${seeder.peerPort}`)
  const seenByRtorrent = new Set<string>()
  const finished = waitFor('rtorrent to complete the download', async () => {
    for (const line of await rtorrentPeers(rtorrent, infoHash)) seenByRtorrent.add(line)
    const download = await rtorrentDownload(rtorrent, infoHash)
    return download.complete && download.bytesDone === LENGTH ? download : undefined
  }, 300_000, 250)
  const seen = await peersSeenUntil(seeder, infoHash, finished)
  await finished
  t.same(await sameFiles(join(work, 'source'), join(work, 'rt'), FILES), [], 'rtorrent\'s copy is byte-equal')
  const view = await seeder.torrent(infoHash)
  t.ok(view.uploaded >= LENGTH, `bidtorrent uploaded the whole torrent (${view.uploaded} bytes)`)
  t.comment(`rtorrent's view of bidtorrent: ${[...seenByRtorrent].join('; ')}`)
  const rtorrentPeer = peerOfClient(seen, RTORRENT_PEER_ID)
  t.ok(rtorrentPeer, `bidtorrent showed rtorrent's connection in peers (${seen.map((peer) => peerIdPrefix(peer.peerId)).join(', ')})`)
  t.comment(`rtorrent in bidtorrent's peers: peer id ${peerIdPrefix(rtorrentPeer?.peerId ?? '')}…, client "${rtorrentPeer?.client ?? ''}", ${rtorrentPeer?.direction ?? ''}`)
  t.match(rtorrentPeer?.client, /libTorrent|rtorrent/i, 'and names the client')
})

t.test('bidtorrent downloads from an rtorrent seeder, by .torrent and by magnet', async (t) => {
  const fixture = await torrentOfFixture(t, FILES)
  const { work, meta, torrentFile } = fixture
  const rtorrent = await startRtorrent(t, join(work, 'rtorrent'), join(work, 'source'))
  await rtorrent.add(torrentFile)
  await waitFor('rtorrent to check the data and seed it', async () => {
    const download = await rtorrentDownload(rtorrent, meta.infoHash)
    return download.complete && !download.hashing ? download : undefined
  }, 120_000, 250)
  await fetchFromClient(t, fixture, FILES, {
    name: 'rtorrent',
    peer: `127.0.0.1:${rtorrent.port}`,
    peerId: RTORRENT_PEER_ID,
    client: /libTorrent|rtorrent/i,
    peers: async () => await rtorrentPeers(rtorrent, meta.infoHash),
    uploaded: async () => (await rtorrentDownload(rtorrent, meta.infoHash)).uploaded
  })
})
