import type { MarketConfig } from '../market/torrent-market.js'
import type { ChannelTotal, SettleResult, VoucherTotals } from './api-types.js'
import { marketOffError } from './market-off.js'
import type { AcceptedRecord, VoucherRecord } from '../settlement/records.js'
import type { StateStore } from './store.js'

/** The stored vouchers through the control API: what was earned and spent, and redeeming them now. */
export class VoucherService {
  constructor (
    private readonly store: StateStore,
    /** Absent when the daemon has no unlocked wallet. */
    private readonly market: MarketConfig | undefined
  ) {}

  /**
   * Redeems every stored voucher now (on a chain: claims, whatever their size). `redeemed` is what
   * this call redeemed, per channel (the amount it added); `redemptions` is every channel's total.
   */
  async settle (): Promise<SettleResult> {
    if (!this.market) throw marketOffError('nothing to settle')
    const before = new Map((await this.market.settlement.redemptions()).map((record) => [record.channel, BigInt(record.amount)]))
    const settled = await this.market.settleNow()
    const redeemed = settled.redemptions.flatMap((record) => {
      const added = BigInt(record.amount) - (before.get(record.channel) ?? 0n)
      return added > 0n ? [{ ...record, added: added.toString() }] : []
    })
    return { backend: this.market.settlement.backend, redeemed, ...settled }
  }

  async earnings (): Promise<VoucherTotals> {
    return totalsOf(await this.store.receivedVouchers.all(), (voucher) => voucher.payer)
  }

  /** What sellers confirmed holding from us (their receipts), with what we signed beside it. */
  async spending (): Promise<VoucherTotals> {
    const accepted = new Map((await this.store.acceptedVouchers.all()).map((record) => [record.channel, record]))
    return totalsOf(await this.store.sentVouchers.all(), (voucher) => voucher.payee, accepted)
  }
}

function totalsOf (vouchers: readonly VoucherRecord[], counterpart: (voucher: VoucherRecord) => string, accepted?: ReadonlyMap<string, AcceptedRecord>): VoucherTotals {
  const torrents = new Map<string, VoucherRecord[]>()
  for (const voucher of vouchers) {
    const list = torrents.get(voucher.infoHash)
    if (list) list.push(voucher)
    else torrents.set(voucher.infoHash, [voucher])
  }
  let total = 0n
  let unconfirmed = 0n
  const rows = [...torrents].map(([infoHash, list]) => {
    let sum = 0n
    const peers = list.map((voucher): ChannelTotal => {
      const channel = { wallet: counterpart(voucher), vouchers: voucher.nonce, channel: voucher.channel }
      if (!accepted) {
        sum += BigInt(voucher.amount)
        return { ...channel, amount: voucher.amount }
      }
      // Spending: paid is what the seller confirmed; the rest of our latest voucher stands apart.
      const confirmed = BigInt(accepted.get(voucher.channel)?.amount ?? '0')
      const signed = BigInt(voucher.amount)
      const notAccepted = signed > confirmed ? signed - confirmed : 0n
      sum += confirmed
      unconfirmed += notAccepted
      return { ...channel, amount: confirmed.toString(), signed: voucher.amount, signedNotAccepted: notAccepted.toString() }
    })
    total += sum
    return { infoHash, total: sum.toString(), peers }
  })
  return { total: total.toString(), ...(accepted ? { signedNotAccepted: unconfirmed.toString() } : {}), torrents: rows }
}
