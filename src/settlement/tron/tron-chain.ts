import { TronWeb, utils as tronUtils } from 'tronweb'
import { accountBytes, evmAddressOf } from '../../money/address.js'
import { errorMessage } from '../../util/errors.js'
import type { SignedVoucher } from '../../money/voucher.js'
import { channelsInterface as channels, erc20Interface as erc20 } from '../contracts/artifacts.js'
import { fundedBy, fundingCalls, fundingStep } from '../funding.js'
import { channelFromResult, type OnChainChannel, type SignedTransaction, type TransactionOutcome, type WalletChain } from '../chain.js'

/** TRON mainnet's chain id as the TVM reports it (block.chainid): the vouchers' domain there. */
export const TRON_MAINNET_CHAIN_ID = 728126428
/** BTT on TRON's main network: a TRC-20 token with 18 decimals. */
export const BTT_TRC20 = 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4'
/** A claim may burn at most this much TRX for energy (in sun). */
const FEE_LIMIT_SUN = 100_000_000
/** How long a signed claim stays valid: TRON refuses transactions past their expiration. */
const EXPIRATION_MS = 10 * 60_000
const TRIGGER_TYPE_URL = 'type.googleapis.com/protocol.TriggerSmartContract'
const TRANSFER_TYPE_URL = 'type.googleapis.com/protocol.TransferContract'
/** How long to wait for one of our transactions to be in a block (TRON makes one every 3 s). */
const MINED_TIMEOUT_MS = 120_000

const hex20 = (address: string): string => Buffer.from(accountBytes(address)).toString('hex')

/** The block a TRON transaction refers to (TaPoS): its number and id. */
export interface ReferenceBlock {
  readonly number: number
  /** 32-byte block id, hex. */
  readonly id: string
  /** Its timestamp, ms. */
  readonly timestamp: number
}

/** A contract call built and signed here: only the signed transaction goes to the node. */
export interface TronContractCall {
  /** Our account (any address form). */
  readonly owner: string
  /** The contract called (any address form). */
  readonly contract: string
  /** ABI-encoded call data, 0x hex. */
  readonly data: string
  /** TRX sent with the call (a native deposit), in sun. */
  readonly callValue?: bigint
  readonly reference: ReferenceBlock
  readonly privateKey: string
}

export interface TronClaim {
  readonly owner: string
  readonly contract: string
  readonly voucher: SignedVoucher
  readonly reference: ReferenceBlock
  readonly privateKey: string
}

export interface SignedTronTransaction {
  readonly transaction: Record<string, unknown>
  readonly txID: string
  /** Past this (ms since the epoch) the network refuses it. */
  readonly expiration: number
}

/** Signs a transaction whose only contract is `contract`, referring to a given block (TaPoS). */
function signOffline (contract: Record<string, unknown>, reference: ReferenceBlock, privateKey: string, feeLimit?: number): SignedTronTransaction {
  const blockNumber = Buffer.alloc(8)
  blockNumber.writeBigUInt64BE(BigInt(reference.number))
  const expiration = reference.timestamp + EXPIRATION_MS
  const unsigned: Record<string, unknown> & { raw_data: Record<string, unknown> } = {
    visible: false,
    raw_data: {
      contract: [contract],
      ref_block_bytes: blockNumber.subarray(6, 8).toString('hex'),
      ref_block_hash: reference.id.slice(16, 32),
      expiration,
      timestamp: reference.timestamp,
      ...(feeLimit !== undefined ? { fee_limit: feeLimit } : {})
    }
  }
  const pb = tronUtils.transaction.txJsonToPb(unsigned)
  const txID = tronUtils.transaction.txPbToTxID(pb).replace(/^0x/, '')
  const withId = { ...unsigned, txID, raw_data_hex: tronUtils.transaction.txPbToRawDataHex(pb) }
  const signed = tronUtils.crypto.signTransaction(privateKey.replace(/^0x/, ''), withId) as unknown as Record<string, unknown>
  return { transaction: signed, txID, expiration }
}

/** TRX amounts travel as JSON numbers: refuse one a number cannot hold exactly. */
function sun (amount: bigint): number {
  if (amount < 0n || amount > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${amount} sun is out of range for a TRON transaction`)
  return Number(amount)
}

/** Builds and signs a TriggerSmartContract transaction with no node: the reference block is given. */
export function buildContractCall (call: TronContractCall): SignedTronTransaction {
  const value = {
    data: call.data.replace(/^0x/, ''),
    owner_address: `41${hex20(call.owner)}`,
    contract_address: `41${hex20(call.contract)}`,
    ...(call.callValue ? { call_value: sun(call.callValue) } : {})
  }
  return signOffline({ parameter: { value, type_url: TRIGGER_TYPE_URL }, type: 'TriggerSmartContract' }, call.reference, call.privateKey, FEE_LIMIT_SUN)
}

/** Builds and signs a claim of `voucher` on the channel contract, with no node. */
export function buildClaimTransaction (claim: TronClaim): SignedTronTransaction {
  const data = channels().encodeFunctionData('claim', [
    `0x${Buffer.from(claim.voucher.channel).toString('hex')}`, claim.voucher.nonce, claim.voucher.amount, `0x${Buffer.from(claim.voucher.signature).toString('hex')}`
  ])
  return buildContractCall({ owner: claim.owner, contract: claim.contract, data, reference: claim.reference, privateKey: claim.privateKey })
}

/** Builds and signs a TRX transfer, with no node. */
export function buildTrxTransfer (transfer: { owner: string, to: string, amount: bigint, reference: ReferenceBlock, privateKey: string }): SignedTronTransaction {
  const value = { owner_address: `41${hex20(transfer.owner)}`, to_address: `41${hex20(transfer.to)}`, amount: sun(transfer.amount) }
  return signOffline({ parameter: { value, type_url: TRANSFER_TYPE_URL }, type: 'TransferContract' }, transfer.reference, transfer.privateKey)
}

/**
 * The channel contract on TRON through tronweb and a full node. Transactions are built and signed
 * here (the key never leaves the process) and only broadcast through the node. With no node
 * configured it says so, and every operation fails plainly: it never pretends to settle.
 *
 * BTT on TRON is a TRC-20 token (`channelToken`: approved, then pulled by the contract's
 * transferFrom); with no token configured, channels are funded in TRX.
 */
export class TronChannelChain implements WalletChain {
  readonly contract: string
  readonly token: string | null
  readonly describe: string | undefined
  readonly nativeCurrency = { symbol: 'TRX', decimals: 6 }
  private readonly tronWeb: TronWeb | undefined
  private readonly owner: string

  constructor (private readonly fullNode: string | null, readonly chainId: number, contract: string, private readonly privateKey: string, token: string | null = null) {
    this.contract = `0x${hex20(contract)}`
    this.token = token ? `0x${hex20(token)}` : null
    this.owner = TronWeb.address.fromPrivateKey(privateKey.replace(/^0x/, '')) as string
    this.tronWeb = fullNode ? new TronWeb({ fullHost: fullNode }) : undefined
    this.describe = fullNode ? `full node ${fullNode}` : 'no TRON full node configured (chainRpcUrl): vouchers are stored, nothing is settled'
  }

  /** Our account in 0x form, as the contract sees it. */
  get address (): string {
    return `0x${hex20(this.owner)}`
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

  /** A read-only call (triggerconstantcontract); returns the raw output, 0x hex. */
  private async read (what: string, contract: string, data: string): Promise<string> {
    const result = await this.ask(what, (node) => node.transactionBuilder.triggerConstantContract(
      `41${hex20(contract)}`, '', { input: data.replace(/^0x/, '') }, [], TronWeb.address.toHex(this.owner)))
    const output = (result as { constant_result?: string[] }).constant_result?.[0]
    if (output === undefined) throw new Error(`cannot ${what}: the TRON full node returned no result`)
    return `0x${output}`
  }

  async channel (channelId: string): Promise<OnChainChannel | undefined> {
    const id = channelId.startsWith('0x') ? channelId : `0x${channelId}`
    const output = await this.read('read the channel', this.contract, channels().encodeFunctionData('channels', [id]))
    return channelFromResult(channels().decodeFunctionResult('channels', output))
  }

  private async reference (): Promise<ReferenceBlock> {
    const block = await this.ask('read the latest block', (node) => node.trx.getCurrentBlock()) as unknown as { blockID: string, block_header: { raw_data: { number: number, timestamp: number } } }
    return { number: block.block_header.raw_data.number, id: block.blockID, timestamp: block.block_header.raw_data.timestamp }
  }

  async signClaim (voucher: SignedVoucher): Promise<SignedTransaction> {
    const { transaction, txID, expiration } = buildClaimTransaction({ owner: this.owner, contract: this.contract, voucher, reference: await this.reference(), privateKey: this.privateKey })
    return { hash: txID, raw: JSON.stringify(transaction), expiresAt: expiration }
  }

  async broadcast (transaction: SignedTransaction): Promise<void> {
    const result = await this.ask('broadcast a transaction', (node) => node.trx.sendRawTransaction(JSON.parse(transaction.raw))) as { result?: boolean, code?: string, message?: string }
    if (result.result || result.code === 'DUP_TRANSACTION_ERROR') return
    const reason = result.message ? Buffer.from(result.message, 'hex').toString('utf8') : ''
    throw new Error(`the TRON full node refused the transaction: ${result.code ?? 'unknown'} ${reason}`.trim())
  }

  async outcome (hash: string): Promise<TransactionOutcome | undefined> {
    const info = await this.ask('read a transaction\'s outcome', (node) => node.trx.getTransactionInfo(hash)) as { blockNumber?: number, receipt?: { result?: string } }
    if (!info.blockNumber) return undefined
    // A TRX transfer has no receipt result: in a block, it succeeded.
    return { status: info.receipt?.result === undefined || info.receipt.result === 'SUCCESS' ? 'success' : 'reverted', blockNumber: info.blockNumber }
  }

  async now (): Promise<number> {
    return Math.floor((await this.reference()).timestamp / 1000)
  }

  /** Signs, broadcasts and waits for one transaction of ours; throws if it reverted or never landed. */
  private async execute (what: string, sign: (reference: ReferenceBlock) => SignedTronTransaction): Promise<string> {
    const { transaction, txID, expiration } = sign(await this.reference())
    await this.broadcast({ hash: txID, raw: JSON.stringify(transaction), expiresAt: expiration })
    const deadline = Date.now() + MINED_TIMEOUT_MS
    for (;;) {
      const outcome = await this.outcome(txID)
      if (outcome?.status === 'success') return txID
      if (outcome) throw new Error(`${what}: transaction ${txID} reverted`)
      if (Date.now() > deadline) throw new Error(`${what}: transaction ${txID} was not in a block after ${MINED_TIMEOUT_MS / 1000} s`)
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }

  private async callContract (what: string, contract: string, data: string, callValue = 0n): Promise<string> {
    return this.execute(what, (reference) => buildContractCall({ owner: this.owner, contract, data, callValue, reference, privateKey: this.privateKey }))
  }

  /**
   * As the payer: makes sure our channel to `payee` for a torrent can pay up to `funds`, opening it
   * or topping it up (TRC-20: approved first, then pulled by the contract; or TRX sent with the call).
   */
  async fundChannel (payee: string, infoHash: string, channelId: string, funds: bigint, expiry: number): Promise<bigint> {
    const current = await this.channel(channelId)
    const step = fundingStep(current, funds, expiry)
    for (const call of fundingCalls(step, { contract: this.contract, token: this.token, payee, infoHash, channelId, expiry, ...(current ? { current } : {}) })) {
      await this.callContract(call.what, call.contract, call.data, call.callValue)
    }
    return fundedBy(step)
  }

  async call (method: 'requestRefund' | 'refund' | 'close', ...args: unknown[]): Promise<string> {
    return this.callContract(method, this.contract, channels().encodeFunctionData(method, args))
  }

  async send (to: string, amount: bigint): Promise<string> {
    return this.execute('send TRX', (reference) => buildTrxTransfer({ owner: this.owner, to, amount, reference, privateKey: this.privateKey }))
  }

  async sendToken (to: string, amount: bigint): Promise<string> {
    if (!this.token) throw new Error('no deposit token is configured (channelToken)')
    return this.callContract('send the token', this.token, erc20().encodeFunctionData('transfer', [evmAddressOf(to), amount]))
  }

  async balance (): Promise<bigint> {
    return BigInt(await this.ask('read the balance', (node) => node.trx.getBalance(this.owner)))
  }

  async tokenBalance (): Promise<bigint | undefined> {
    if (!this.token) return undefined
    const output = await this.read('read the token balance', this.token, erc20().encodeFunctionData('balanceOf', [this.address]))
    return erc20().decodeFunctionResult('balanceOf', output)[0] as bigint
  }
}
