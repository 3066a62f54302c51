import type { RejectCode } from './codec.js'
import { channelIdFor, signedBy, type Backend, type SignedVoucher, type VoucherDomain } from '../money/voucher.js'

/** What a seller knows about a channel before it looks at a voucher for it. */
export interface ChannelTerms {
  readonly payer: string
  readonly payee: string
  readonly infoHash: string
  readonly backend: Backend
  readonly domain: VoucherDomain
  /** The most the channel can pay: its deposit, or the embedded credit cap. */
  readonly funds: bigint
}

export interface BestVoucher {
  readonly nonce: number
  readonly amount: bigint
}

export type VoucherVerdict = { readonly ok: true } | { readonly ok: false, readonly code: RejectCode, readonly reason: string }

function refuse (code: RejectCode, reason: string): VoucherVerdict {
  return { ok: false, code, reason }
}

/**
 * The seller's checks on a voucher, in the order docs/protocol.md §5.4 gives: the channel, the
 * signature, then nonce, amount and funds against the best voucher already stored. Nothing about a
 * voucher is trusted before its signature is verified.
 */
export function judgeVoucher (voucher: SignedVoucher, terms: ChannelTerms, best: BestVoucher | undefined): VoucherVerdict {
  const expected = channelIdFor(terms.payer, terms.payee, terms.infoHash)
  if (!Buffer.from(voucher.channel).equals(expected)) return refuse('unknown-channel', 'not the channel of this payer, payee and torrent')
  if (!signedBy(terms.domain, voucher, terms.payer)) return refuse('bad-signature', 'the signature does not recover to the payer\'s wallet')
  if (best && voucher.nonce <= best.nonce) return refuse('stale-nonce', `nonce ${voucher.nonce} is not above ${best.nonce}`)
  if (best && voucher.amount < best.amount) return refuse('amount-decreased', `cumulative amount ${voucher.amount} is below ${best.amount}`)
  if (voucher.amount > terms.funds) return refuse('over-funds', `amount ${voucher.amount} is above the channel's funds of ${terms.funds}`)
  return { ok: true }
}
