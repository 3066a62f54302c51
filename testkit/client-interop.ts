import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TorrentView } from '../src/api/types.js'
import { createTorrentFrom } from '../src/engine/create.js'
import type { TorrentMeta } from '../src/engine/metainfo.js'
import { startDaemon, tempDir, waitComplete } from './daemon.js'
import { sameFiles, writeFixture, type FixtureFile } from './fixture.js'
import { connectionsDuring, peerOfClient, peersSeenUntil, whileUnsettled } from './peers-seen.js'
import { runCli, waitFor, type Cleanup } from './process.js'

/** The assertions the helpers below make, on a tap test. */
export interface Asserting extends Cleanup {
  equal (found: unknown, wanted: unknown, message: string): unknown
  same (found: unknown, wanted: unknown, message: string): unknown
  ok (value: unknown, message: string): unknown
  match (found: unknown, pattern: RegExp, message: string): unknown
  comment (message: string): unknown
}

export interface TorrentFixture {
  /** A fresh folder: the files are under `source`, the .torrent is `torrentFile`. */
  readonly work: string
  readonly meta: TorrentMeta
  readonly torrentFile: string
}

/** `files` (all under one top folder) written to `<work>/source`, and a .torrent of that folder made by bidtorrent. */
export async function torrentOfFixture (t: Cleanup, files: readonly FixtureFile[]): Promise<TorrentFixture> {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), files)
  const top = files[0]!.path.split('/')[0]!
  const meta = await createTorrentFrom(join(work, 'source', top))
  const torrentFile = join(work, `${top}.torrent`)
  await writeFile(torrentFile, meta.torrentFile)
  return { work, meta, torrentFile }
}

/** Another client seeding a fixture, as the test drives it. */
export interface ClientSeeder {
  readonly name: string
  /** host:port it takes peers on. */
  readonly peer: string
  /** The start of its peer id, e.g. /^-qB[0-9A-Z]{4}-/. */
  readonly peerId: RegExp
  /** Its client name in bidtorrent's `peers`. */
  readonly client: RegExp
  /** How it sees its peers, one line each (for the log). */
  peers (): Promise<string[]>
  /** Bytes it has uploaded of this torrent. */
  uploaded (): Promise<number>
}

/**
 * A daemon downloads the fixture from the client by its .torrent, another by magnet link (the
 * metadata from the client too): both byte-equal, no hash failure, no redial loop once both seed,
 * the client named in `peers`, and the client counts both copies as uploaded.
 */
export async function fetchFromClient (t: Asserting, fixture: TorrentFixture, files: readonly FixtureFile[], seeder: ClientSeeder): Promise<void> {
  const { work, meta, torrentFile } = fixture
  const length = files.reduce((sum, file) => sum + file.size, 0)
  const byFile = await startDaemon(t)
  const added = await runCli(['add', torrentFile, '--out', join(work, 'bt'), '--peer', seeder.peer, '--data-dir', byFile.dataDir, '--json'])
  t.equal(added.code, 0, added.stderr)
  const completed = waitComplete(byFile, meta.infoHash)
  const seenByClient = new Set<string>()
  const [seen] = await Promise.all([
    peersSeenUntil(byFile, meta.infoHash, completed),
    whileUnsettled(completed, async () => { for (const line of await seeder.peers()) seenByClient.add(line) })
  ])
  const done = await completed
  t.comment(`${seeder.name}'s view of bidtorrent: ${[...seenByClient].join('; ')}`)
  t.equal(done.hashFailures, 0, 'no piece failed its hash')
  t.same(await sameFiles(join(work, 'source'), join(work, 'bt'), files), [], 'bidtorrent\'s copy from the .torrent is byte-equal')
  const redials = await connectionsDuring(byFile, meta.infoHash, 3000)
  t.ok(redials <= 1, `now both seed: bidtorrent does not call ${seeder.name} back in a loop (${redials} connections in 3 s)`)
  const clientPeer = peerOfClient(seen, seeder.peerId)
  t.ok(clientPeer, `bidtorrent showed ${seeder.name} in peers`)
  t.match(clientPeer?.client, seeder.client, 'by its client name')

  const byMagnet = await startDaemon(t)
  const magnet = `magnet:?xt=urn:btih:${meta.infoHash}&dn=${encodeURIComponent(meta.name)}`
  const fetched = await runCli(['add', magnet, '--out', join(work, 'magnet'), '--peer', seeder.peer, '--data-dir', byMagnet.dataDir, '--wait', '--json'])
  t.equal(fetched.code, 0, fetched.stderr)
  t.equal((JSON.parse(fetched.stdout) as TorrentView).verifiedPieces, meta.pieceCount, 'every piece verified')
  t.same(await sameFiles(join(work, 'source'), join(work, 'magnet'), files), [], `bidtorrent's copy from the magnet (metadata from ${seeder.name}) is byte-equal`)
  const uploaded = await waitFor(`${seeder.name} to count its upload`, async () => {
    const bytes = await seeder.uploaded()
    return bytes >= 2 * length ? bytes : undefined
  }, 30_000)
  t.ok(uploaded >= 2 * length, `${seeder.name} uploaded both copies (${uploaded} bytes)`)
}
