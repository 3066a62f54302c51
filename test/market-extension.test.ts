import { once } from 'node:events'
import t from 'tap'
import Wire from 'bittorrent-protocol'
import { EXTENSION_NAME, type MarketHandshake, type MarketMessage } from '../src/market/codec.js'
import { MarketExtension, marketExtension } from '../src/market/extension.js'
import { BoundedWire } from '../src/engine/wire.js'

const INFO_HASH = 'c'.repeat(40)
const seller: MarketHandshake = { version: 1, wallet: 'TJRabPrwbZy45sbavfcjinPJC18kjpRTv8', chainId: 0, backends: ['embedded'], floor: 1000n }
const bidder: MarketHandshake = { version: 1, wallet: 'TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7', chainId: 0, backends: ['embedded', 'evm'] }

/** Two wires joined back to back, as two peers over a socket. */
async function connected (leftMarket: MarketHandshake | undefined, rightMarket: MarketHandshake | undefined): Promise<{ left: Wire, right: Wire, leftExt?: MarketExtension, rightExt?: MarketExtension }> {
  const left = new BoundedWire()
  const right = new BoundedWire()
  left.pipe(right).pipe(left)
  const found: { leftExt?: MarketExtension, rightExt?: MarketExtension } = {}
  if (leftMarket) left.use(marketExtension(() => leftMarket, (extension) => { found.leftExt = extension }))
  if (rightMarket) right.use(marketExtension(() => rightMarket, (extension) => { found.rightExt = extension }))
  const shaken = Promise.all([once(left, 'extended'), once(right, 'extended')])
  left.handshake(INFO_HASH, 'a'.repeat(40))
  right.handshake(INFO_HASH, 'b'.repeat(40))
  await shaken
  return { left, right, ...found }
}

t.test('two peers with the extension learn each other\'s handshake and exchange messages', async (t) => {
  const { left, right, leftExt, rightExt } = await connected(seller, bidder)
  t.teardown(() => { left.destroy(); right.destroy() })
  t.equal(leftExt!.remote?.wallet, bidder.wallet, 'the seller sees the bidder\'s wallet')
  t.equal(rightExt!.remote?.floor, 1000n, 'the bidder sees the seller\'s floor')
  const bid: MarketMessage = { type: 'bid', price: 2000n, channel: new Uint8Array(32).fill(1), backend: 'embedded' }
  const arrived = once(leftExt!, 'message')
  t.ok(rightExt!.send(bid), 'sent')
  const [message] = await arrived as [MarketMessage]
  t.equal(message.type, 'bid')
  t.equal(message.type === 'bid' ? message.price : 0n, 2000n)
})

t.test('a malformed message is dropped with a warning and the connection carries on', async (t) => {
  const { left, right, leftExt, rightExt } = await connected(seller, bidder)
  t.teardown(() => { left.destroy(); right.destroy() })
  const warned = once(leftExt!, 'malformed')
  right.extended(EXTENSION_NAME, Buffer.from('d1:ti99ee'))
  const [error] = await warned as [string]
  t.match(error, /unknown message type/)
  const arrived = once(leftExt!, 'message')
  rightExt!.send({ type: 'reject', code: 'below-floor', about: 'bid', reason: 'too low' })
  t.equal(((await arrived) as [MarketMessage])[0].type, 'reject', 'the next good message still arrives')
  t.notOk(left.destroyed, 'the wire is still open')
})

t.test('a peer without the extension: nothing is sent to it, and it is an ordinary peer', async (t) => {
  const { left, right, leftExt } = await connected(seller, undefined)
  t.teardown(() => { left.destroy(); right.destroy() })
  t.equal(leftExt!.remote, undefined)
  t.notOk(leftExt!.send({ type: 'bid-response', rate: 1n, rank: 1, paidSlots: 1 }), 'send refuses')
  const have = once(right, 'have')
  left.have(3)
  t.equal(((await have) as [number])[0], 3, 'plain BitTorrent messages flow as before')
})

t.test('a peer whose handshake entry is invalid is treated as not speaking the extension', async (t) => {
  const { left, right, leftExt } = await connected(seller, { ...bidder, wallet: 'not-a-wallet' })
  t.teardown(() => { left.destroy(); right.destroy() })
  t.equal(leftExt!.remote, undefined)
})
