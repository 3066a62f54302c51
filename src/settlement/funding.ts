import { evmAddressOf } from '../money/address.js'
import { NATIVE_COIN, isNativeCoin, type OnChainChannel } from './chain.js'
import { channelsInterface as channels, erc20Interface as erc20 } from './contracts/artifacts.js'

export type FundingStep =
  | { readonly action: 'open', readonly amount: bigint }
  | { readonly action: 'none', readonly backing: bigint }
  | { readonly action: 'topUp', readonly amount: bigint, readonly expiry: number, readonly backing: bigint }

/**
 * What makes a channel able to pay `funds` in total until `expiry`: open it, top it up, or
 * nothing. A top-up also moves the expiry later and cancels a pending refund.
 */
export function fundingStep (current: OnChainChannel | undefined, funds: bigint, expiry: number): FundingStep {
  if (!current) return { action: 'open', amount: funds }
  const backing = current.deposited - current.refunded
  if (backing >= funds && current.expiry >= expiry && current.refundAt === 0) return { action: 'none', backing }
  // The contract takes no empty top-up: moving only the expiry (or cancelling a refund) costs 1 base unit.
  return { action: 'topUp', amount: funds > backing ? funds - backing : 1n, expiry: Math.max(expiry, current.expiry), backing }
}

/** What a channel can pay once a funding step is mined. */
export function fundedBy (step: FundingStep): bigint {
  return step.action === 'open' ? step.amount : step.action === 'none' ? step.backing : step.backing + step.amount
}

/** One contract call of a funding step, before it is signed. */
export interface FundingCall {
  readonly what: string
  readonly contract: string
  readonly data: string
  readonly callValue: bigint
}

/**
 * The calls that carry out a funding step, in order: with a token, an approval of exactly the
 * amount and then the open or top-up that pulls it (transferFrom); with the native coin (TRX on
 * TRON, BTT on BTTC), the open or top-up carrying the amount as its value. A top-up pays in the coin the channel already holds.
 */
export function fundingCalls (step: FundingStep, channel: { contract: string, token: string | null, payee: string, infoHash: string, channelId: string, expiry: number, current?: OnChainChannel }): FundingCall[] {
  if (step.action === 'none') return []
  const held = channel.current?.token
  const token = step.action === 'open' || held === undefined ? channel.token : isNativeCoin(held) ? null : held
  const calls: FundingCall[] = token ? [{ what: 'approve the deposit', contract: token, data: erc20().encodeFunctionData('approve', [channel.contract, step.amount]), callValue: 0n }] : []
  calls.push(step.action === 'open'
    ? { what: 'open the channel', contract: channel.contract, data: channels().encodeFunctionData('open', [evmAddressOf(channel.payee), `0x${channel.infoHash}`, token ?? NATIVE_COIN, step.amount, channel.expiry]), callValue: token ? 0n : step.amount }
    : { what: 'top the channel up', contract: channel.contract, data: channels().encodeFunctionData('topUp', [`0x${channel.channelId}`, step.amount, step.expiry]), callValue: token ? 0n : step.amount })
  return calls
}
