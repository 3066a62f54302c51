import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import { Interface } from 'ethers'
import { TronWeb, utils as tronUtils } from 'tronweb'
import winston from 'winston'
import { StateStore, type VoucherRecord } from '../src/daemon/store.js'
import { addressOfPrivateKey } from '../src/market/address.js'
import { channelIdFor, signVoucher } from '../src/market/voucher.js'
import { ChainSettlement } from '../src/settlement/chain-settlement.js'
import { ClaimQueue } from '../src/settlement/claims.js'
import { artifact } from '../src/settlement/contracts/artifacts.js'
import { TRON_MAINNET_CHAIN_ID, TronChannelChain, buildClaimTransaction } from '../src/settlement/tron/tron-chain.js'
import { freePort } from './helpers/clients.js'
import { tempDir } from './helpers/daemon.js'

const quiet = winston.createLogger({ silent: true })
const CONTRACT = 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4'
const INFO_HASH = '34'.repeat(20)

function parties (): { payerKey: string, payer: string, payeeKey: string, payee: string } {
  const payerKey = randomBytes(32).toString('hex')
  const payeeKey = randomBytes(32).toString('hex')
  return { payerKey, payer: addressOfPrivateKey(payerKey), payeeKey, payee: addressOfPrivateKey(payeeKey) }
}

t.test('a TRON claim is built and signed offline, decodes to the intended contract call and recovers to the signer', async (t) => {
  const { payerKey, payer, payeeKey, payee } = parties()
  const domain = { chainId: TRON_MAINNET_CHAIN_ID, verifyingContract: CONTRACT }
  const voucher = signVoucher(payerKey, domain, { channel: channelIdFor(payer, payee, INFO_HASH), nonce: 7, amount: 123_456_789n })
  const reference = { number: 61_234_567, id: `0000000003a65d87${'ab'.repeat(24)}`, timestamp: 1_790_000_000_000 }
  const { transaction, txID, expiration } = buildClaimTransaction({ owner: payee, contract: CONTRACT, voucher, reference, privateKey: payeeKey })
  const signed = transaction as { raw_data_hex: string, signature: string[], raw_data: { ref_block_bytes: string, ref_block_hash: string, expiration: number } }

  t.equal(txID, createHash('sha256').update(Buffer.from(signed.raw_data_hex, 'hex')).digest('hex'), 'the id is the SHA-256 of the raw data')
  t.equal(signed.raw_data.ref_block_bytes, (reference.number & 0xffff).toString(16).padStart(4, '0'), 'TaPoS: the reference block number\'s low two bytes')
  t.equal(signed.raw_data.ref_block_hash, reference.id.slice(16, 32), 'and 8 bytes of its id')
  t.ok(expiration > reference.timestamp, 'it expires after its reference block')

  const decoded = tronUtils.deserializeTx.deserializeTransaction('TriggerSmartContract', signed.raw_data_hex) as unknown as { contract: Array<{ parameter: { value: { owner_address: string, contract_address: string, data: string } } }> }
  const call = decoded.contract[0]!.parameter.value
  t.equal(TronWeb.address.fromHex(call.owner_address), payee, 'sent by the payee')
  t.equal(TronWeb.address.fromHex(call.contract_address), CONTRACT, 'to the channel contract')
  const parsed = new Interface(artifact('BidtorrentChannels').abi as ConstructorParameters<typeof Interface>[0]).parseTransaction({ data: `0x${call.data}` })!
  t.equal(parsed.name, 'claim', 'calling claim')
  t.same([parsed.args[0], parsed.args[1], parsed.args[2], parsed.args[3]],
    [`0x${Buffer.from(voucher.channel).toString('hex')}`, 7n, 123_456_789n, `0x${Buffer.from(voucher.signature).toString('hex')}`], 'with the voucher')
  const signer = tronUtils.crypto.ecRecover(`0x${txID}`, `0x${signed.signature[0]}`)
  t.equal(TronWeb.address.fromHex(signer), payee, 'the signature recovers to the payee')
})

t.test('against an unreachable TRON node: a clear error, and the claim queue keeps the claim', async (t) => {
  const { payerKey, payer, payeeKey, payee } = parties()
  const store = new StateStore(await tempDir(t, 'bidtorrent-tron-'))
  await store.open()
  t.teardown(() => store.close())
  // A port with nothing listening: an unreachable full node.
  const node = `http://127.0.0.1:${await freePort()}`
  const chain = new TronChannelChain(node, TRON_MAINNET_CHAIN_ID, CONTRACT, payeeKey)
  const settlement = new ChainSettlement('tron', chain, new ClaimQueue(store.claims, chain), { minClaim: 1n, safetySeconds: 600, account: payee, channelLifetimeSeconds: 86_400 }, quiet)
  t.same(settlement.domain.chainId, TRON_MAINNET_CHAIN_ID)
  const channel = Buffer.from(channelIdFor(payer, payee, INFO_HASH)).toString('hex')
  await t.rejects(chain.channel(channel), new RegExp(`cannot read the channel: the TRON full node at ${node} failed`), 'reading a channel fails with a clear error')
  t.equal(await settlement.fundsOf(channel), 0n, 'and a channel it cannot read backs no voucher')

  const signed = signVoucher(payerKey, settlement.domain, { channel: Buffer.from(channel, 'hex'), nonce: 1, amount: 5000n })
  const record: VoucherRecord = { channel, infoHash: INFO_HASH, backend: 'tron', payer, payee, chainId: TRON_MAINNET_CHAIN_ID, nonce: 1, amount: '5000', signature: Buffer.from(signed.signature).toString('hex'), at: new Date().toISOString() }
  const queue = new ClaimQueue(store.claims, chain)
  await queue.decide(record)
  await t.rejects(queue.run(), new RegExp(`cannot read the channel: the TRON full node at ${node} failed`), 'a claim cannot even be prepared: a clear error')
  t.same((await store.claims.all()).map((claim) => [claim.state, claim.nonce, claim.amount]), [['decided', 1, '5000']], 'the queue keeps the claim, to resume when the node is back')

  // A claim signed earlier (offline here), then the node is unreachable when it is broadcast.
  const later = new StateStore(await tempDir(t, 'bidtorrent-tron-'))
  await later.open()
  t.teardown(() => later.close())
  const reference = { number: 70_000_000, id: `00000000042c1d80${'cd'.repeat(24)}`, timestamp: Date.now() }
  const built = buildClaimTransaction({ owner: payee, contract: CONTRACT, voucher: { ...signed, nonce: 2, amount: 6000n }, reference, privateKey: payeeKey })
  const transaction = { hash: built.txID, raw: JSON.stringify(built.transaction), expiresAt: Date.now() + 3_600_000 }
  await later.claims.put(`${channel}:2`, { channel, nonce: 2, amount: '6000', signature: record.signature, state: 'decided', transaction, decidedAt: new Date().toISOString() })
  // The node's clock is unreachable too; the local one says the transaction has not expired.
  const unreachable: TronChannelChain = Object.assign(Object.create(chain) as TronChannelChain, { now: async () => Math.floor(Date.now() / 1000) })
  await t.rejects(new ClaimQueue(later.claims, unreachable).run(), new RegExp(`cannot broadcast the claim: the TRON full node at ${node} failed`), 'broadcasting fails with a clear error')
  t.same((await later.claims.all()).map((claim) => [claim.state, claim.transaction]), [['decided', transaction]], 'and the signed claim stays queued as it was')

  const offline = new TronChannelChain(null, TRON_MAINNET_CHAIN_ID, CONTRACT, payeeKey)
  t.match(offline.describe, /no TRON full node configured/, 'with no node configured it says so')
  await t.rejects(offline.channel(channel), /no TRON full node is configured/, 'and never pretends to settle')
})
