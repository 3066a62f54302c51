import t from 'tap'
import { Contract, parseEther } from 'ethers'
import winston from 'winston'
import { StateStore } from '../src/daemon/store.js'
import type { VoucherRecord } from '../src/settlement/records.js'
import { channelIdFor, signVoucher } from '../src/money/voucher.js'
import { ClaimQueue } from '../src/settlement/claims.js'
import { EvmChannelChain } from '../src/settlement/evm/chain-client.js'
import type { ChannelChain, SignedTransaction } from '../src/settlement/chain.js'
import { ChainSettlement } from '../src/settlement/chain-settlement.js'
import { hex, mined, now, relayTo, setup, tron, type Parties } from '../testkit/chain.js'
import { tempDir } from '../testkit/daemon.js'
import type { Cleanup } from '../testkit/process.js'

const INFO_HASH = '12'.repeat(20)
const DAY = 86_400
const quiet = winston.createLogger({ silent: true })

/** A chain that dies at one step the first time: the daemon crashing there. */
function crashingAt (chain: ChannelChain, step: 'before-broadcast' | 'after-broadcast'): ChannelChain {
  let crashed = false
  return {
    chainId: chain.chainId,
    contract: chain.contract,
    channel: (id) => chain.channel(id),
    signClaim: (voucher) => chain.signClaim(voucher),
    outcome: (hash) => chain.outcome(hash),
    now: () => chain.now(),
    fundChannel: (...args) => chain.fundChannel(...args),
    broadcast: async (transaction: SignedTransaction) => {
      if (!crashed && step === 'before-broadcast') { crashed = true; throw new Error('crash before the transaction left') }
      await chain.broadcast(transaction)
      if (!crashed && step === 'after-broadcast') { crashed = true; throw new Error('crash after the transaction left, before it was recorded') }
    }
  }
}

async function openChannel (p: Parties, deposit: bigint): Promise<string> {
  const channels = p.channels.connect(p.payer) as Contract
  await mined(channels.getFunction('open')(p.payee.address, `0x${INFO_HASH}`, '0x0000000000000000000000000000000000000000', deposit, (await now(p.provider)) + DAY, { value: deposit }))
  return Buffer.from(channelIdFor(tron(p.payer.address), tron(p.payee.address), INFO_HASH)).toString('hex')
}

function voucherRecord (p: Parties, channel: string, nonce: number, amount: bigint): VoucherRecord {
  const signed = signVoucher(p.payer.privateKey, p.domain, { channel: Buffer.from(channel, 'hex'), nonce, amount })
  return { channel, infoHash: INFO_HASH, backend: 'evm', payer: tron(p.payer.address), payee: tron(p.payee.address), chainId: p.domain.chainId, nonce, amount: amount.toString(), signature: Buffer.from(signed.signature).toString('hex'), at: new Date().toISOString() }
}

async function claimedOnChain (p: Parties, channel: string): Promise<bigint> {
  const found = await p.channels.getFunction('channels')(`0x${channel}`) as unknown as bigint[]
  return found[7]!
}

/**
 * A chain with a 1 BTT channel from payer to payee, and the payee's store and chain link; with
 * `relayed`, the link goes through a relay the test can cut or stall.
 */
async function payeeSide (t: Cleanup, options: { relayed?: boolean, requestTimeoutMs?: number } = {}): Promise<{ p: Parties, channel: string, store: StateStore, chain: EvmChannelChain, relay: Awaited<ReturnType<typeof relayTo>> | undefined }> {
  const p = await setup(t)
  const channel = await openChannel(p, parseEther('1'))
  const relay = options.relayed ? await relayTo(p.chain.port, t) : undefined
  const store = new StateStore(await tempDir(t, 'bidtorrent-claims-'))
  await store.open()
  t.teardown(() => store.close())
  const rpcUrl = relay ? `http://127.0.0.1:${relay.port}` : p.chain.rpcUrl
  const chain = new EvmChannelChain(rpcUrl, p.chain.chainId, await p.channels.getAddress(), p.payee.privateKey, null, options.requestTimeoutMs)
  t.teardown(() => chain.destroy())
  return { p, channel, store, chain, relay }
}

t.test('the evm backend reads deposits before trusting vouchers, and claims each exactly once through the durable queue', async (t) => {
  const { p, channel, store, chain } = await payeeSide(t)
  const options = { minClaim: parseEther('0.05'), safetySeconds: 600, account: p.payee.address, channelLifetimeSeconds: DAY }
  const settlement = new ChainSettlement('evm', chain, new ClaimQueue(store.claims, chain), options, quiet)

  t.same(settlement.domain, p.domain, 'vouchers are signed for this chain and this contract')
  t.equal(await settlement.fundsOf(channel), parseEther('1'), 'the channel\'s deposit, read from the contract')
  await mined((p.channels.connect(p.payer) as Contract).getFunction('topUp')(`0x${channel}`, parseEther('1'), (await now(p.provider)) + DAY, { value: parseEther('1') }))
  t.equal(await settlement.fundsOf(channel, parseEther('0.5')), parseEther('1'), 'a read that covers the voucher is not repeated (before expiry, a channel only gains)')
  t.equal(await settlement.fundsOf(channel, parseEther('1.5')), parseEther('2'), 'one above it reads the chain again and sees the top-up')
  t.equal(await settlement.fundsOf(hex(channelIdFor(tron(p.stranger.address), tron(p.payee.address), INFO_HASH)).slice(2)), 0n, 'a channel that does not exist backs nothing')

  await settlement.redeem(voucherRecord(p, channel, 1, parseEther('0.01')))
  t.equal(await claimedOnChain(p, channel), 0n, 'a claim too small to be worth the fee waits')
  await settlement.redeem(voucherRecord(p, channel, 2, parseEther('0.2')))
  t.equal(await claimedOnChain(p, channel), parseEther('0.2'), 'a claim worth it is made')
  await settlement.redeem(voucherRecord(p, channel, 2, parseEther('0.2')))
  t.equal((await store.claims.all()).length, 1, 'redeeming the same voucher again makes no second claim')
  t.same((await settlement.redemptions()).map((record) => record.amount), [parseEther('0.2').toString()])

  // A crash just before the signed claim left: the restarted queue sends that same transaction.
  await new ClaimQueue(store.claims, crashingAt(chain, 'before-broadcast')).decide(voucherRecord(p, channel, 3, parseEther('0.4')))
  await t.rejects(new ClaimQueue(store.claims, crashingAt(chain, 'before-broadcast')).run(), /crash before/)
  const decided = (await store.claims.all()).find((record) => record.nonce === 3)!
  t.equal(decided.state, 'decided')
  t.ok(decided.transaction?.hash, 'the decision holds the signed transaction and its hash, written before anything was sent')
  await new ClaimQueue(store.claims, chain).run()
  t.equal(await claimedOnChain(p, channel), parseEther('0.4'), 'after the restart the claim is made')
  t.equal((await store.claims.all()).find((record) => record.nonce === 3)?.transaction?.hash, decided.transaction!.hash, 'with the very transaction decided before the crash')

  // A crash after the transaction left but before it was recorded as sent: the restart finds it mined.
  await new ClaimQueue(store.claims, chain).decide(voucherRecord(p, channel, 4, parseEther('0.6')))
  await t.rejects(new ClaimQueue(store.claims, crashingAt(chain, 'after-broadcast')).run(), /crash after/)
  await new ClaimQueue(store.claims, chain).run()
  t.equal(await claimedOnChain(p, channel), parseEther('0.6'), 'claimed exactly once')
  t.same((await store.claims.all()).map((record) => record.state), ['confirmed', 'confirmed', 'confirmed'], 'every claim ended confirmed')
})

t.test('a dead chain endpoint pauses claims without losing them, and the market keeps the deposit it last read', async (t) => {
  const { p, channel, store, chain, relay: relayed } = await payeeSide(t, { relayed: true })
  const relay = relayed!
  const settlement = new ChainSettlement('evm', chain, new ClaimQueue(store.claims, chain), { minClaim: 1n, safetySeconds: 600, account: p.payee.address, channelLifetimeSeconds: DAY }, quiet)
  t.equal(await settlement.fundsOf(channel), parseEther('1'))

  relay.cut()
  t.equal(await settlement.fundsOf(channel), parseEther('1'), 'with the endpoint down, the deposit last read still backs vouchers')
  t.equal(await settlement.fundsOf(channel, parseEther('2')), parseEther('1'), 'a voucher above it makes it look again; the endpoint is down, so the last read answers')
  await t.rejects(settlement.redeem(voucherRecord(p, channel, 1, parseEther('0.3'))), 'redeeming cannot finish while the endpoint is down')
  t.same((await store.claims.all()).map((record) => record.state), ['decided'], 'the decision to claim is kept')
  t.same(await settlement.health(), { pendingClaims: 1, chainErrors: 3 }, 'the metrics see the claim waiting and the three failed chain calls (two reads, the claim)')
  relay.restore()
  await new ClaimQueue(store.claims, chain).run()
  t.equal(await claimedOnChain(p, channel), parseEther('0.3'), 'when the endpoint returns the claim goes through')
  t.equal((await settlement.health()).pendingClaims, 0, 'and no claim waits')

  // A claim signed and written down, then the endpoint dies before it is sent.
  await new ClaimQueue(store.claims, chain).decide(voucherRecord(p, channel, 2, parseEther('0.5')))
  await t.rejects(new ClaimQueue(store.claims, crashingAt(chain, 'before-broadcast')).run())
  const signed = (await store.claims.all()).find((record) => record.nonce === 2)!
  relay.cut()
  await t.rejects(new ClaimQueue(store.claims, chain).run(), 'it cannot be sent while the endpoint is down')
  t.equal((await store.claims.all()).find((record) => record.nonce === 2)?.state, 'decided', 'it stays in the queue')
  relay.restore()
  await new ClaimQueue(store.claims, chain).run()
  t.equal(await claimedOnChain(p, channel), parseEther('0.5'), 'and is made, once, when the endpoint is back')
  t.equal((await store.claims.all()).find((record) => record.nonce === 2)?.transaction?.hash, signed.transaction!.hash, 'with the transaction signed before the outage')
})

t.test('a chain endpoint that takes requests and never answers is given up on after the request timeout; nothing is lost', async (t) => {
  const { p, channel, store, chain, relay: relayed } = await payeeSide(t, { relayed: true, requestTimeoutMs: 2000 })
  const relay = relayed!
  const settlement = new ChainSettlement('evm', chain, new ClaimQueue(store.claims, chain), { minClaim: 1n, safetySeconds: 600, account: p.payee.address, channelLifetimeSeconds: DAY }, quiet)
  t.equal(await settlement.fundsOf(channel), parseEther('1'))

  relay.stall()
  t.equal(await settlement.fundsOf(channel, parseEther('2')), parseEther('1'), 'a read that gets no answer times out, and the deposit last read answers')
  await t.rejects(settlement.redeem(voucherRecord(p, channel, 1, parseEther('0.3'))), /timeout/i, 'a claim cannot go out through a hung endpoint: the request times out')
  t.same((await store.claims.all()).map((record) => record.state), ['decided'], 'the decision to claim is kept')
  relay.restore()
  await new ClaimQueue(store.claims, chain).run()
  t.equal(await claimedOnChain(p, channel), parseEther('0.3'), 'when the endpoint answers again the claim goes through, once')
})

t.test('a claim waits until it is worth its fee: estimated gas × the gas price, read from the chain', async (t) => {
  const { p, channel, store, chain } = await payeeSide(t)
  const settlement = new ChainSettlement('evm', chain, new ClaimQueue(store.claims, chain), { minClaim: 1n, claimFeeMultiple: 10, safetySeconds: 600, account: p.payee.address, channelLifetimeSeconds: DAY }, quiet)

  const probe = voucherRecord(p, channel, 1, 1000n)
  const onChain = (await chain.channel(channel))!
  const fee = (await chain.claimFee({ channel: Buffer.from(channel, 'hex'), nonce: 1, amount: 1000n, signature: Buffer.from(probe.signature, 'hex') }, onChain))!
  t.ok(fee > 0n, `a claim costs about ${fee} base units here (gas × price)`)
  t.equal(await chain.claimFee({ channel: Buffer.from(channel, 'hex'), nonce: 1, amount: 1000n, signature: Buffer.from(probe.signature, 'hex') }, { ...onChain, token: await p.token.getAddress() }), undefined,
    'on a token channel the fee (in the native coin) is not compared with the amount (in the token)')

  await settlement.redeem(voucherRecord(p, channel, 1, fee * 5n))
  t.equal(await claimedOnChain(p, channel), 0n, 'an amount worth five times the fee waits (the setting asks for ten)')
  await settlement.redeem(voucherRecord(p, channel, 2, fee * 20n))
  t.equal(await claimedOnChain(p, channel), fee * 20n, 'one worth twenty times the fee is claimed')
  await settlement.redeem(voucherRecord(p, channel, 3, fee * 21n), true)
  t.equal(await claimedOnChain(p, channel), fee * 21n, '`settle` (now) claims whatever the size')
})

t.test('a claim decided while the queue is running is made by the run asked for after it', async (t) => {
  const { p, channel, store, chain } = await payeeSide(t)
  const queue = new ClaimQueue(store.claims, chain)
  await queue.decide(voucherRecord(p, channel, 1, parseEther('0.1')))
  const first = queue.run()
  await queue.decide(voucherRecord(p, channel, 2, parseEther('0.3')))
  await queue.run(channel)
  await first
  t.equal(await claimedOnChain(p, channel), parseEther('0.3'), 'the second run saw the claim decided after the first began')
  t.same((await store.claims.all()).map((record) => record.state), ['confirmed', 'confirmed'])
})
