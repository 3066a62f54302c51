import { Interface } from 'ethers'
import { TronWeb, utils as tronUtils } from 'tronweb'
import { accountBytes } from '../../market/address.js'
import { errorMessage } from '../../util/errors.js'
import type { SignedVoucher } from '../../market/voucher.js'
import { artifact } from '../contracts/artifacts.js'
import type { ChannelChain, OnChainChannel, SignedTransaction, TransactionOutcome } from '../evm/chain-client.js'

/** TRON mainnet's chain id as the TVM reports it (block.chainid): the vouchers' domain there. */
export const TRON_MAINNET_CHAIN_ID = 728126428
/** A claim may burn at most this much TRX for energy (in sun). */
const FEE_LIMIT_SUN = 100_000_000
/** How long a signed claim stays valid: TRON refuses transactions past their expiration. */
const EXPIRATION_MS = 10 * 60_000
const TRIGGER_TYPE_URL = 'type.googleapis.com/protocol.TriggerSmartContract'

let channelsInterface: Interface | undefined
/** The contract's ABI, parsed once. */
const channels = (): Interface => (channelsInterface ??= new Interface(artifact('BidtorrentChannels').abi as ConstructorParameters<typeof Interface>[0]))
const hex20 = (address: string): string => Buffer.from(accountBytes(address)).toString('hex')

/** The block a TRON transaction refers to (TaPoS): its number and id. */
export interface ReferenceBlock {
  readonly number: number
  /** 32-byte block id, hex. */
  readonly id: string
  /** Its timestamp, ms. */
  readonly timestamp: number
}

export interface TronClaim {
  readonly owner: string
  readonly contract: string
  readonly voucher: SignedVoucher
  readonly reference: ReferenceBlock
  readonly privateKey: string
}

/**
 * Builds and signs a TriggerSmartContract transaction calling the channel contract's `claim`, with
 * no node: the reference block is given. Returns the signed transaction (JSON) and its id.
 */
export function buildClaimTransaction (claim: TronClaim): { transaction: Record<string, unknown>, txID: string, expiration: number } {
  const data = channels().encodeFunctionData('claim', [
    `0x${Buffer.from(claim.voucher.channel).toString('hex')}`, claim.voucher.nonce, claim.voucher.amount, `0x${Buffer.from(claim.voucher.signature).toString('hex')}`
  ]).slice(2)
  const blockNumber = Buffer.alloc(8)
  blockNumber.writeBigUInt64BE(BigInt(claim.reference.number))
  const expiration = claim.reference.timestamp + EXPIRATION_MS
  const unsigned: Record<string, unknown> & { raw_data: Record<string, unknown> } = {
    visible: false,
    raw_data: {
      contract: [{ parameter: { value: { data, owner_address: `41${hex20(claim.owner)}`, contract_address: `41${hex20(claim.contract)}` }, type_url: TRIGGER_TYPE_URL }, type: 'TriggerSmartContract' }],
      ref_block_bytes: blockNumber.subarray(6, 8).toString('hex'),
      ref_block_hash: claim.reference.id.slice(16, 32),
      expiration,
      timestamp: claim.reference.timestamp,
      fee_limit: FEE_LIMIT_SUN
    }
  }
  const pb = tronUtils.transaction.txJsonToPb(unsigned)
  const txID = tronUtils.transaction.txPbToTxID(pb).replace(/^0x/, '')
  const withId = { ...unsigned, txID, raw_data_hex: tronUtils.transaction.txPbToRawDataHex(pb) }
  const signed = tronUtils.crypto.signTransaction(claim.privateKey.replace(/^0x/, ''), withId) as unknown as Record<string, unknown>
  return { transaction: signed, txID, expiration }
}

/**
 * The channel contract on TRON through tronweb and a full node. Transactions are built and signed
 * here (the key never leaves the process) and only broadcast through the node. With no node
 * configured it says so, and every operation fails plainly: it never pretends to settle.
 */
export class TronChannelChain implements ChannelChain {
  readonly contract: string
  readonly describe: string | undefined
  private readonly tronWeb: TronWeb | undefined
  private readonly owner: string

  constructor (private readonly fullNode: string | null, readonly chainId: number, contract: string, private readonly privateKey: string) {
    this.contract = `0x${hex20(contract)}`
    this.owner = TronWeb.address.fromPrivateKey(privateKey.replace(/^0x/, '')) as string
    this.tronWeb = fullNode ? new TronWeb({ fullHost: fullNode }) : undefined
    this.describe = fullNode ? `full node ${fullNode}` : 'no TRON full node configured (chainRpcUrl): vouchers are stored, nothing is settled'
  }

  private node (): TronWeb {
    if (!this.tronWeb) throw new Error('no TRON full node is configured (setting chainRpcUrl): nothing can be read or settled on TRON')
    return this.tronWeb
  }

  /** Runs a node call, turning a dead or unreachable node into one clear error. */
  private async ask<T> (what: string, call: (node: TronWeb) => Promise<T>): Promise<T> {
    const node = this.node()
    try {
      return await call(node)
    } catch (err) {
      throw new Error(`cannot ${what}: the TRON full node at ${this.fullNode} failed (${errorMessage(err)})`)
    }
  }

  async channel (channelId: string): Promise<OnChainChannel | undefined> {
    const id = channelId.startsWith('0x') ? channelId : `0x${channelId}`
    const result = await this.ask('read the channel', (node) => node.transactionBuilder.triggerConstantContract(
      `41${this.contract.slice(2)}`, 'channels(bytes32)', {}, [{ type: 'bytes32', value: id }], TronWeb.address.toHex(this.owner)))
    const output = (result as { constant_result?: string[] }).constant_result?.[0]
    if (!output) throw new Error('cannot read the channel: the TRON full node returned no result')
    const [payer, payee, token, expiry, refundAt, nonce, deposited, claimed, refunded] = channels().decodeFunctionResult('channels', `0x${output}`) as unknown as [string, string, string, bigint, bigint, bigint, bigint, bigint, bigint]
    if (/^0x0{40}$/i.test(payer)) return undefined
    return { payer, payee, token, expiry: Number(expiry), refundAt: Number(refundAt), nonce: Number(nonce), deposited, claimed, refunded }
  }

  async signClaim (voucher: SignedVoucher): Promise<SignedTransaction> {
    const block = await this.ask('read the latest block', (node) => node.trx.getCurrentBlock()) as unknown as { blockID: string, block_header: { raw_data: { number: number, timestamp: number } } }
    const reference = { number: block.block_header.raw_data.number, id: block.blockID, timestamp: block.block_header.raw_data.timestamp }
    const { transaction, txID, expiration } = buildClaimTransaction({ owner: this.owner, contract: this.contract, voucher, reference, privateKey: this.privateKey })
    return { hash: txID, raw: JSON.stringify(transaction), expiresAt: expiration }
  }

  async broadcast (transaction: SignedTransaction): Promise<void> {
    const result = await this.ask('broadcast the claim', (node) => node.trx.sendRawTransaction(JSON.parse(transaction.raw))) as { result?: boolean, code?: string, message?: string }
    if (result.result || result.code === 'DUP_TRANSACTION_ERROR') return
    const reason = result.message ? Buffer.from(result.message, 'hex').toString('utf8') : ''
    throw new Error(`the TRON full node refused the claim: ${result.code ?? 'unknown'} ${reason}`.trim())
  }

  async outcome (hash: string): Promise<TransactionOutcome | undefined> {
    const info = await this.ask('read the claim\'s outcome', (node) => node.trx.getTransactionInfo(hash)) as { blockNumber?: number, receipt?: { result?: string } }
    if (!info.blockNumber) return undefined
    return { status: info.receipt?.result === 'SUCCESS' ? 'success' : 'reverted', blockNumber: info.blockNumber }
  }

  async now (): Promise<number> {
    const block = await this.ask('read the latest block', (node) => node.trx.getCurrentBlock()) as unknown as { block_header: { raw_data: { timestamp: number } } }
    return Math.floor(block.block_header.raw_data.timestamp / 1000)
  }

  async fundChannel (): Promise<bigint> {
    throw new Error('opening channels on TRON (BTT as TRC-20: approve, then open) is not built yet; buy on an evm backend')
  }
}
