import { NO_CONTRACT, type SignedVoucher } from '../money/voucher.js'

/** A channel as the contract holds it (docs/contract.md); amounts in base units. */
export interface OnChainChannel {
  readonly payer: string
  readonly payee: string
  readonly token: string
  /** Seconds since the epoch. */
  readonly expiry: number
  /** 0, or when a requested refund may be taken. */
  readonly refundAt: number
  readonly nonce: number
  readonly deposited: bigint
  readonly claimed: bigint
  readonly refunded: bigint
}

/** The token a channel names when it holds the chain's native coin (the zero address). */
export const NATIVE_COIN = NO_CONTRACT

export function isNativeCoin (token: string): boolean {
  return token.toLowerCase() === NATIVE_COIN
}

/** The contract's `channels(id)` result as a channel; undefined for an id never opened (no payer). */
export function channelFromResult (result: readonly unknown[]): OnChainChannel | undefined {
  const [payer, payee, token, expiry, refundAt, nonce, deposited, claimed, refunded] = result as [string, string, string, bigint, bigint, bigint, bigint, bigint, bigint]
  if (isNativeCoin(payer)) return undefined
  return { payer, payee, token, expiry: Number(expiry), refundAt: Number(refundAt), nonce: Number(nonce), deposited, claimed, refunded }
}

/** A transaction signed before it is sent: written down first, it can be sent again unchanged. */
export interface SignedTransaction {
  readonly hash: string
  /** The signed transaction as sent: raw bytes (EVM), or the signed JSON (TRON). */
  readonly raw: string
  /** Past this time (ms since the epoch) it can never be mined (TRON transactions expire); absent: never. */
  readonly expiresAt?: number
}

export interface TransactionOutcome {
  readonly status: 'success' | 'reverted'
  readonly blockNumber: number
}

/** What the claim queue needs of a chain: read a channel, sign a claim, send it, see how it ended. */
export interface ChannelChain {
  readonly chainId: number
  /** The channel contract as 20 bytes in 0x form (the voucher domain's verifyingContract). */
  readonly contract: string
  /** Anything a user should know about this chain link (say, that no node is configured). */
  readonly describe?: string
  channel (channelId: string): Promise<OnChainChannel | undefined>
  signClaim (voucher: SignedVoucher): Promise<SignedTransaction>
  /** Sends a signed transaction; sending one the node already has is not an error. */
  broadcast (transaction: SignedTransaction): Promise<void>
  outcome (hash: string): Promise<TransactionOutcome | undefined>
  now (): Promise<number>
  /**
   * What claiming `voucher` would cost in the coin the channel pays in (estimated gas × price), or
   * undefined where the two are different coins (a token channel, TRON's energy in TRX).
   */
  claimFee? (voucher: SignedVoucher, channel: OnChainChannel): Promise<bigint | undefined>
  fundChannel (payee: string, infoHash: string, channelId: string, funds: bigint, expiry: number): Promise<bigint>
}

/** The coin a chain charges its fees in (and deposits in, with no token configured). */
export interface Currency {
  readonly symbol: string
  readonly decimals: number
}

/** What the wallet commands need of a chain beyond settlement: balances, transfers, and ending channels. */
export interface WalletChain extends ChannelChain {
  /** Our account in 0x form (the contract's view of it). */
  readonly address: string
  readonly nativeCurrency: Currency
  /** The token channels are funded with (0x form), or null for the native coin. */
  readonly token: string | null
  balance (): Promise<bigint>
  tokenBalance (): Promise<bigint | undefined>
  /** Every channel opened to or by `account`, where the chain can list them (from the contract's events). */
  channelsOf? (account: string): Promise<Array<{ channelId: string, infoHash: string }>>
  /** Sends a transaction to the channel contract as our account; returns its hash once mined. */
  call (method: 'requestRefund' | 'refund' | 'close', ...args: unknown[]): Promise<string>
  /** Sends the native coin (`to` in any address form); returns the hash once mined. */
  send (to: string, amount: bigint): Promise<string>
  /** Sends the deposit token; returns the hash once mined. */
  sendToken (to: string, amount: bigint): Promise<string>
}
