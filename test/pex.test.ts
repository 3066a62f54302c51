import t from 'tap'
import utPex from 'ut_pex'
import { advertise, withdraw, type PexExtension } from '../src/engine/pex.js'
import { join } from 'node:path'
import type { PeerInfo } from '../src/api/types.js'
import type { TorrentView } from '../src/api/types.js'
import { startDaemon, tempDir, waitComplete } from '../testkit/daemon.js'
import { sameFiles, writeFixture } from '../testkit/fixture.js'
import { runCli, waitFor } from '../testkit/process.js'

const FILES = [{ path: 'swarm.bin', size: 8 * 1024 * 1024 }]

t.test('peer exchange (ut_pex): a peer that only knows a middleman learns of the seeder', async (t) => {
  const work = await tempDir(t)
  await writeFixture(join(work, 'source'), FILES)
  const seeder = await startDaemon(t)
  const middle = await startDaemon(t)
  const late = await startDaemon(t)
  const seeded = JSON.parse((await runCli(['seed', join(work, 'source', 'swarm.bin'), '--data-dir', seeder.dataDir, '--json'])).stdout) as TorrentView
  await runCli(['add', seeded.magnet, '--out', join(work, 'middle'), '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', middle.dataDir])
  await waitComplete(middle, seeded.infoHash)

  const added = await runCli(['add', seeded.magnet, '--out', join(work, 'late'), '--peer', `127.0.0.1:${middle.peerPort}`, '--data-dir', late.dataDir])
  t.equal(added.code, 0, added.stderr)
  const seederAddress = `127.0.0.1:${seeder.peerPort}`
  // Either side may dial: the middleman tells each about the other.
  await waitFor('the late peer and the seeder to find each other through PEX', async () => {
    const peers = await late.api.request<PeerInfo[]>('GET', `/v1/torrents/${seeded.infoHash}/peers`)
    return peers.some((peer) => peer.address === seederAddress || peer.listenAddress === seederAddress) ? true : undefined
  }, 60_000, 250)
  t.pass('the late peer is connected to the seeder, and nobody told either about the other but the middleman')
  await waitComplete(late, seeded.infoHash)
  t.same(await sameFiles(join(work, 'source'), join(work, 'late'), FILES), [], 'byte-equal')
})

t.test('PEX messages carry IPv4 peers in added/dropped and IPv6 peers in added6/dropped6', async (t) => {
  const sent: Array<Record<string, Uint8Array>> = []
  // ut_pex only calls wire.extended to send: a wire that records what it sends is enough here.
  const recorder = { extended: (_name: string, message: Record<string, Uint8Array>) => sent.push(message) }
  const Pex = utPex()
  const pex = new Pex(recorder as unknown as ConstructorParameters<typeof Pex>[0]) as unknown as PexExtension
  advertise(pex, '10.0.0.7:6881')
  advertise(pex, '[2001:db8::1]:51413')
  advertise(pex, 'not an address')
  pex._sendMessage()
  withdraw(pex, '10.0.0.7:6881')
  withdraw(pex, '[2001:db8::1]:51413')
  pex._sendMessage()
  pex.stop()
  // BEP 11 compact form: 4 (or 16) address bytes, then the port, big-endian.
  const v4 = Buffer.from([10, 0, 0, 7, 6881 >> 8, 6881 & 0xff])
  const v6 = Buffer.concat([Buffer.from('20010db8000000000000000000000001', 'hex'), Buffer.from([51413 >> 8, 51413 & 0xff])])
  const bytes = (field: Uint8Array | undefined): string => Buffer.from(field ?? []).toString('hex')
  t.same([bytes(sent[0]!.added), bytes(sent[0]!.added6)], [v4.toString('hex'), v6.toString('hex')], 'both families advertised, each in its own field; anything else is not')
  t.same([bytes(sent[1]!.dropped), bytes(sent[1]!.dropped6)], [v4.toString('hex'), v6.toString('hex')], 'and withdrawn the same way')
})
