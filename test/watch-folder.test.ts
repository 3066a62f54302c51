import { copyFile, readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { TorrentView } from '../src/api/types.js'
import { seedFile, startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { sameFiles } from '../testkit/fixture.js'
import { waitFor } from '../testkit/process.js'

t.test('a watch folder: a .torrent put there is added and renamed .added; a file that is not a torrent becomes .invalid', async (t) => {
  const seeder = await startDaemon(t)
  const { work, files, torrentFile, torrent: { infoHash } } = await seedFile(t, seeder, 'watched.bin', 3 * 1024 * 1024)
  const folder = join(await tempDir(t, 'bidtorrent-watch-'), 'watch')
  const out = join(work, 'out')
  const daemon = await startDaemon(t, { env: { BIDTORRENT_WATCH_FOLDER: folder, BIDTORRENT_DOWNLOAD_DIR: out } })

  // Left alone for a minute already: not a file still being copied.
  const junk = join(folder, 'junk.torrent')
  await writeFile(junk, 'this is not a torrent')
  const past = new Date(Date.now() - 60_000)
  await utimes(junk, past, past)
  await copyFile(torrentFile, join(folder, 'watched.torrent'))

  const added = await waitFor('the torrent added from the folder', async () => {
    const torrents = await daemon.api.request<TorrentView[]>('GET', '/v1/torrents')
    return torrents.find((torrent) => torrent.infoHash === infoHash)
  }, 60_000)
  t.equal(added.name, 'watched.bin', 'the torrent is in the daemon')
  await daemon.api.request('POST', `/v1/torrents/${infoHash}/peers`, { peers: [`127.0.0.1:${seeder.peerPort}`] })
  await waitComplete(daemon, infoHash)
  t.same(await sameFiles(join(work, 'source'), out, files), [], 'and downloads into the download folder')
  const left = await waitFor('both files renamed', async () => {
    const names = (await readdir(folder)).sort()
    return names.length === 2 && names.every((name) => !name.endsWith('.torrent')) ? names : undefined
  }, 60_000)
  t.same(left, ['junk.torrent.invalid', 'watched.torrent.added'], 'taken once, and the user sees what became of each')
  t.match(daemon.logs(), /not a torrent; renamed to \.invalid/, 'the reason is logged')
})
