import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect } from 'node:net'
import Wire from 'bittorrent-protocol'
import t from 'tap'
import winston from 'winston'
import Transport from 'winston-transport'
import { marketExtension } from '../src/market/extension.js'
import { NetworkLog } from '../src/util/network-log.js'
import { seedFile } from '../testkit/daemon.js'
import { MiB, marketDaemon } from '../testkit/market.js'
import { handshakeOf, newWallet } from '../testkit/market-peer.js'

class Lines extends Transport {
  readonly lines: Array<{ message: string, [key: string]: unknown }> = []
  override log (info: { message: string }, next: () => void): void {
    this.lines.push(info)
    next()
  }
}

t.test('network log: a few lines per peer and a cap in total per window, and one line saying how many were dropped', async (t) => {
  const sink = new Lines()
  const log = winston.createLogger({ level: 'info', transports: [sink] })
  let now = 1_000_000
  const network = new NetworkLog(log, { perSource: 3, total: 5, windowMs: 60_000 }, () => now)
  for (let i = 0; i < 100; i++) network.warn('10.0.0.1:6881', 'bad message')
  t.equal(sink.lines.length, 3, 'one peer: three lines, not a hundred')
  for (let peer = 2; peer < 10; peer++) network.warn(`10.0.0.${peer}:6881`, 'bad message')
  t.equal(sink.lines.length, 5, 'all peers together: five')
  now += 60_000
  network.info('10.0.0.1:6881', 'next window')
  t.match(sink.lines[5], { message: 'log lines caused by peers were dropped (rate limit)', dropped: 103 }, 'the next window opens with what was dropped')
  t.equal(sink.lines.at(-1)?.message, 'next window')
})

t.test('a peer sending thousands of malformed market messages writes a few log lines, not thousands', async (t) => {
  const seller = await marketDaemon(t)
  const { torrent } = await seedFile(t, seller.daemon, 'noisy.bin', MiB, ['--floor', '20BTT/MiB'])
  const socket = connect(seller.daemon.peerPort, '127.0.0.1')
  socket.on('error', () => {})
  const wire = new Wire()
  wire.on('error', () => socket.destroy())
  let extension: { send: (message: never) => boolean } | undefined
  wire.use(marketExtension(() => handshakeOf(newWallet()), (created) => { extension = created as never }))
  socket.pipe(wire).pipe(socket)
  await once(socket, 'connect')
  const shaken = once(wire, 'extended')
  wire.handshake(torrent.infoHash, randomBytes(20))
  await shaken
  t.ok(extension, 'the peer speaks the bid extension')
  for (let i = 0; i < 3000; i++) wire.extended('bt_bid', randomBytes(40))
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const logged = seller.daemon.logs().split('\n').filter((line) => line.includes('dropped a malformed market message')).length
  t.ok(logged <= 5, `3,000 malformed messages, ${logged} log lines`)
  socket.destroy()
})
