import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import { Interface } from 'ethers'
import { TronWeb, utils as tronUtils } from 'tronweb'
import winston from 'winston'
import { StateStore } from '../src/daemon/store.js'
import type { VoucherRecord } from '../src/settlement/records.js'
import { addressOfPrivateKey } from '../src/money/address.js'
import { channelIdFor, signVoucher } from '../src/money/voucher.js'
import { ChainSettlement } from '../src/settlement/chain-settlement.js'
import { ClaimQueue } from '../src/settlement/claims.js'
import { artifact } from '../src/settlement/contracts/artifacts.js'
import { TRON_MAINNET_CHAIN_ID, TronChannelChain, buildClaimTransaction, buildContractCall, buildTrxTransfer, type SignedTronTransaction } from '../src/settlement/tron/tron-chain.js'
import { fundingCalls, fundingStep } from '../src/settlement/funding.js'
import { channelsInterface, erc20Interface } from '../src/settlement/contracts/artifacts.js'
import { evmAddressOf } from '../src/money/address.js'
import { marketDaemon } from '../testkit/market.js'
import { runCli } from '../testkit/process.js'
import { freePort } from '../testkit/clients.js'
import { tempDir } from '../testkit/daemon.js'

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
  await t.rejects(new ClaimQueue(later.claims, unreachable).run(), new RegExp(`cannot broadcast a transaction: the TRON full node at ${node} failed`), 'broadcasting fails with a clear error')
  t.same((await later.claims.all()).map((claim) => [claim.state, claim.transaction]), [['decided', transaction]], 'and the signed claim stays queued as it was')

  const offline = new TronChannelChain(null, TRON_MAINNET_CHAIN_ID, CONTRACT, payeeKey)
  t.match(offline.describe, /no TRON full node configured/, 'with no node configured it says so')
  await t.rejects(offline.channel(channel), /no TRON full node is configured/, 'and never pretends to settle')
})

/** A decoded call; string arguments (addresses) lowercased. */
interface DecodedCall { owner: string, contract: string, name: string, args: unknown[], callValue: bigint, signer: string }

/** What a TRON contract call signed offline says: decoded from its raw bytes, and who signed it. */
function decodeCall (signed: SignedTronTransaction): DecodedCall {
  const raw = (signed.transaction as { raw_data_hex: string }).raw_data_hex
  const decoded = tronUtils.deserializeTx.deserializeTransaction('TriggerSmartContract', raw) as unknown as { contract: Array<{ parameter: { value: { owner_address: string, contract_address: string, data: string, call_value?: number } } }> }
  const call = decoded.contract[0]!.parameter.value
  const parsed = channelsInterface().parseTransaction({ data: `0x${call.data}` }) ?? erc20Interface().parseTransaction({ data: `0x${call.data}` })!
  const signer = tronUtils.crypto.ecRecover(`0x${signed.txID}`, `0x${(signed.transaction as { signature: string[] }).signature[0]}`)
  return { owner: TronWeb.address.fromHex(call.owner_address), contract: TronWeb.address.fromHex(call.contract_address), name: parsed.name, args: [...parsed.args].map((arg: unknown) => (typeof arg === 'string' ? arg.toLowerCase() : arg)), callValue: BigInt(call.call_value ?? 0), signer: TronWeb.address.fromHex(signer) }
}

t.test('funding a channel on TRON: the approve, open and top-up built and signed offline decode to the intended calls and recover to the payer', async (t) => {
  const { payerKey, payer, payee } = parties()
  const channelContract = addressOfPrivateKey(randomBytes(32).toString('hex'))
  const btt = 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4'
  const channelId = Buffer.from(channelIdFor(payer, payee, INFO_HASH)).toString('hex')
  const expiry = 1_800_000_000
  const reference = { number: 70_000_001, id: `00000000042c1d81${'ef'.repeat(24)}`, timestamp: 1_790_000_000_000 }
  const sign = (calls: ReturnType<typeof fundingCalls>): DecodedCall[] => calls.map((call) => decodeCall(buildContractCall({ owner: payer, contract: call.contract, data: call.data, callValue: call.callValue, reference, privateKey: payerKey })))
  const deposit = 5n * 10n ** 18n
  const contract20 = evmAddressOf(channelContract)

  const opened = sign(fundingCalls(fundingStep(undefined, deposit, expiry), { contract: contract20, token: evmAddressOf(btt), payee, infoHash: INFO_HASH, channelId, expiry }))
  t.same(opened.map((call) => [call.contract, call.name, call.callValue]), [[btt, 'approve', 0n], [channelContract, 'open', 0n]], 'with BTT (TRC-20): approve on the token, then open on the channel contract')
  t.same(opened[0]!.args, [contract20, deposit], 'the approval lets the channel contract pull exactly the deposit')
  t.same(opened[1]!.args, [evmAddressOf(payee), `0x${INFO_HASH}`, evmAddressOf(btt), deposit, BigInt(expiry)], 'the open names the payee, the torrent, the token, the deposit and the expiry')
  t.ok(opened.every((call) => call.owner === payer && call.signer === payer), 'both sent by the payer, and both signatures recover to it')

  const withTrx = sign(fundingCalls(fundingStep(undefined, 3_000_000n, expiry), { contract: contract20, token: null, payee, infoHash: INFO_HASH, channelId, expiry }))
  t.same(withTrx.map((call) => [call.name, call.callValue]), [['open', 3_000_000n]], 'with TRX: one open carrying the deposit as its call value')

  const current = { payer: evmAddressOf(payer), payee: evmAddressOf(payee), token: evmAddressOf(btt), expiry, refundAt: 0, nonce: 3, deposited: deposit, claimed: 10n ** 18n, refunded: 0n }
  const step = fundingStep(current, 8n * 10n ** 18n, expiry + 100)
  const topped = sign(fundingCalls(step, { contract: contract20, token: evmAddressOf(btt), payee, infoHash: INFO_HASH, channelId, expiry: expiry + 100, current }))
  t.same(topped.map((call) => [call.contract, call.name, call.args]), [[btt, 'approve', [contract20, 3n * 10n ** 18n]], [channelContract, 'topUp', [`0x${channelId}`, 3n * 10n ** 18n, BigInt(expiry + 100)]]],
    'a top-up approves and adds only what the deposit lacks, and moves the expiry')
  t.same(fundingCalls(fundingStep(current, deposit, expiry), { contract: contract20, token: evmAddressOf(btt), payee, infoHash: INFO_HASH, channelId, expiry, current }), [], 'a channel that already covers the funds needs no transaction')

  const transfer = buildTrxTransfer({ owner: payer, to: payee, amount: 1_500_000n, reference, privateKey: payerKey })
  const decoded = tronUtils.deserializeTx.deserializeTransaction('TransferContract', (transfer.transaction as { raw_data_hex: string }).raw_data_hex) as unknown as { contract: Array<{ parameter: { value: { owner_address: string, to_address: string, amount: number } } }> }
  const value = decoded.contract[0]!.parameter.value
  t.same([TronWeb.address.fromHex(value.owner_address), TronWeb.address.fromHex(value.to_address), value.amount], [payer, payee, 1_500_000], 'a TRX withdrawal built offline decodes to the transfer')
  t.equal(TronWeb.address.fromHex(tronUtils.crypto.ecRecover(`0x${transfer.txID}`, `0x${(transfer.transaction as { signature: string[] }).signature[0]}`)), payer, 'and recovers to the sender')
})

t.test('a daemon on the tron backend: the wallet commands say clearly when the full node is unreachable or not configured, and the daemon stays up', async (t) => {
  const contract = addressOfPrivateKey(randomBytes(32).toString('hex'))
  const node = `http://127.0.0.1:${await freePort()}`
  const env = { BIDTORRENT_SETTLEMENT: 'tron', BIDTORRENT_CHAIN_RPC_URL: node, BIDTORRENT_CHANNEL_CONTRACT: contract }
  const { daemon } = await marketDaemon(t, { env })
  const { payee } = parties()
  const down = new RegExp(`the TRON full node at ${node} failed`)
  const balance = await runCli(['wallet', 'balance', '--data-dir', daemon.dataDir])
  t.equal(balance.code, 1, '`wallet balance` fails')
  t.match(balance.stderr, /cannot read the token balance/, 'it reads BTT (TRC-20), the main network\'s default deposit token')
  t.match(balance.stderr, down, 'and says the node is unreachable')
  const opened = await runCli(['channel', 'open', payee, INFO_HASH, '--deposit', '1BTT', '--data-dir', daemon.dataDir])
  t.equal(opened.code, 1, '`channel open` fails')
  t.match(opened.stderr, down)
  const sent = await runCli(['withdraw', payee, '1BTT', '--data-dir', daemon.dataDir])
  t.equal(sent.code, 1, '`withdraw` fails')
  t.match(sent.stderr, down)
  const channels = await runCli(['channels', '--data-dir', daemon.dataDir])
  t.equal(channels.code, 1, '`channels` cannot read the channel it was asked to open')
  t.match(channels.stderr, down)
  const status = await runCli(['status', '--data-dir', daemon.dataDir, '--json'])
  t.equal(status.code, 0, 'the daemon is still up')
  t.match(JSON.parse(status.stdout) as { settlement: string }, { settlement: /^tron: / })

  const { daemon: offline } = await marketDaemon(t, { env: { ...env, BIDTORRENT_CHAIN_RPC_URL: 'null' } })
  const none = await runCli(['wallet', 'balance', '--data-dir', offline.dataDir])
  t.equal(none.code, 1)
  t.match(none.stderr, /no TRON full node is configured/, 'with no node configured it says so')
})
