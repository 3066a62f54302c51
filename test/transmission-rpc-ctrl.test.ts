import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { lookup } from 'node:dns/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { Transmission } from '@ctrl/transmission'
import t from 'tap'
import type { TorrentView } from '../src/api/types.js'
import { endpointOf, seedFile, startDaemon, waitComplete, type RunningDaemon } from '../testkit/daemon.js'
import { sameFiles } from '../testkit/fixture.js'
import { waitFor } from '../testkit/process.js'

/**
 * @ctrl/transmission, the Transmission client Flood and other web front ends use, against a real
 * daemon: it does its own session id exchange and Basic auth, as a third-party remote would.
 */

const MiB = 1024 * 1024

async function clientOf (daemon: RunningDaemon, options: { password?: string, host?: string, sessionId?: string } = {}): Promise<Transmission> {
  const { url, token } = await endpointOf(daemon)
  const base = new URL(url)
  if (options.host !== undefined) base.hostname = options.host
  const config = { baseUrl: base.origin + '/', username: 'flood', password: options.password ?? token, timeout: 30_000 }
  return options.sessionId !== undefined ? Transmission.createFromState(config, { auth: { sessionId: options.sessionId } }) : new Transmission(config)
}

async function stateOf (daemon: RunningDaemon, infoHash: string, state: TorrentView['state']): Promise<TorrentView> {
  return await waitFor(`${infoHash} ${state}`, async () => {
    const view = await daemon.torrent(infoHash)
    return view.state === state ? view : undefined
  }, 60_000)
}

t.test('@ctrl/transmission drives bidtorrent: list, add by magnet and by file, stop, start, verify, move, remove', async (t) => {
  const seeder = await startDaemon(t)
  const first = await seedFile(t, seeder, 'ctrl-one.bin', 3 * MiB)
  const second = await seedFile(t, seeder, 'ctrl-two.bin', 2 * MiB)
  const leecher = await startDaemon(t)
  const out = join(first.work, 'out')
  const client = await clientOf(leecher)

  const session = await client.getSession()
  t.equal(session.result, 'success')
  t.equal(session.arguments['rpc-version'], 16, 'the session: RPC version 16')

  const listed = await (await clientOf(seeder)).listTorrents()
  t.same(listed.arguments.torrents.map((torrent) => [torrent.name, torrent.percentDone]).sort(), [['ctrl-one.bin', 1], ['ctrl-two.bin', 1]], 'the seeder\'s torrents, complete')

  const byMagnet = await client.addMagnet(`${first.torrent.magnet}&x.pe=127.0.0.1:${seeder.peerPort}`, { 'download-dir': out })
  t.equal(byMagnet.result, 'success', 'added by magnet')
  t.equal(byMagnet.arguments['torrent-added'].hashString, first.torrent.infoHash)
  const byFile = await client.addTorrent(await readFile(second.torrentFile), { 'download-dir': out, paused: true })
  t.equal(byFile.result, 'success', 'added from a .torrent file')
  await leecher.api.request('POST', `/v1/torrents/${second.torrent.infoHash}/peers`, { peers: [`127.0.0.1:${seeder.peerPort}`] })
  await waitComplete(leecher, first.torrent.infoHash)
  t.equal((await leecher.torrent(second.torrent.infoHash)).state, 'paused', 'the one added paused stays paused')

  const all = await client.getAllData()
  t.same(all.torrents.map((torrent) => torrent.name).sort(), ['ctrl-one.bin', 'ctrl-two.bin'], 'getAllData lists both (its own normalized view)')

  t.equal((await client.resumeTorrent(second.torrent.infoHash)).result, 'success', 'start')
  await waitComplete(leecher, second.torrent.infoHash)
  t.same(await sameFiles(join(first.work, 'source'), out, first.files), [], 'the magnet download, byte-equal')
  t.same(await sameFiles(join(second.work, 'source'), out, second.files), [], 'the file download, byte-equal')

  t.equal((await client.pauseTorrent(first.torrent.infoHash)).result, 'success', 'stop')
  await stateOf(leecher, first.torrent.infoHash, 'paused')
  t.equal((await client.getTorrent(first.torrent.infoHash)).state, 'paused', 'its normalized state: paused')
  t.equal((await client.resumeTorrent(first.torrent.infoHash)).result, 'success')
  await stateOf(leecher, first.torrent.infoHash, 'seeding')

  t.equal((await client.verifyTorrent(first.torrent.infoHash)).result, 'success', 'verify')
  const checked = await stateOf(leecher, first.torrent.infoHash, 'seeding')
  t.equal(checked.verifiedPieces, checked.pieceCount, 'checked again: every piece still good')
  t.equal((await client.reannounceTorrent(first.torrent.infoHash)).result, 'success', 'reannounce')

  const moved = join(first.work, 'moved')
  t.equal((await client.moveTorrent(second.torrent.infoHash, moved)).result, 'success', 'move')
  t.same(await sameFiles(join(second.work, 'source'), moved, second.files), [], 'its file moved, byte-equal')
  t.notOk(existsSync(join(out, 'ctrl-two.bin')), 'and gone from where it was')

  t.equal((await client.removeTorrent(first.torrent.infoHash, true)).result, 'success', 'remove with its data')
  await waitFor('the torrent and its data gone', async () => (!existsSync(join(out, 'ctrl-one.bin')) && (await client.listTorrents()).arguments.torrents.length === 1 ? true : undefined), 30_000)
  t.pass('removed, its data deleted, the other torrent kept')
})

t.test('@ctrl/transmission and the RPC\'s protections: a stale session id, wrong or no credentials, a Host not allowed', async (t) => {
  const daemon = await startDaemon(t)
  const stale = await clientOf(daemon, { sessionId: 'an-old-session-id' })
  t.equal((await stale.listTorrents()).result, 'success', 'a stale session id: 409, the new id taken, the call made again')
  t.not(stale.exportState().auth?.sessionId, 'an-old-session-id', 'the client holds the daemon\'s id now')

  await t.rejects((await clientOf(daemon, { password: 'wrong' })).listTorrents(), /401/, 'a wrong password: 401')
  const { url } = await endpointOf(daemon)
  const anonymous = new Transmission({ baseUrl: new URL(url).origin + '/', timeout: 30_000 })
  await t.rejects(anonymous.getSession(), /401/, 'no credentials: 401')

  // A name of this machine that is not an IP address nor localhost: a page served under it must not reach the RPC (DNS rebinding).
  const name = hostname()
  const resolved = await lookup(name).catch(() => undefined)
  if (!resolved?.address.startsWith('127.')) return t.comment(`skipped: ${name} does not resolve to the loopback here`)
  await t.rejects((await clientOf(daemon, { host: name })).getSession(), /421/, `Host ${name}: refused (421)`)
  const allowing = await startDaemon(t, { env: { BIDTORRENT_RPC_ALLOWED_HOSTS: JSON.stringify([name]) } })
  t.equal((await (await clientOf(allowing, { host: name })).getSession()).result, 'success', `with ${name} in rpcAllowedHosts: answered`)
})
