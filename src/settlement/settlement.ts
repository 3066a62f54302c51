import type { Backend, VoucherDomain } from '../money/voucher.js'
import { errorMessage } from '../util/errors.js'
import type { RedemptionRecord, VoucherRecord } from './records.js'

/**
 * Where vouchers become money. Accounting (src/accounting) knows nothing of this; the market asks a
 * settlement backend what a channel can pay and hands it every voucher it has verified and stored.
 */
export interface Settlement {
  readonly backend: Backend
  /** What vouchers on this backend are signed for: its chain id and its channel contract. */
  readonly domain: VoucherDomain
  /** One line for users and logs, saying plainly what backs a payment. */
  readonly description: string
  /**
   * The most the channel can pay (deposit or credit), in base units. `needed` is what the caller is
   * about to trust: a backend may answer from what it knows when that is enough, and must look
   * afresh when it is not.
   */
  fundsOf (channel: string, needed?: bigint): Promise<bigint>
  /**
   * Redeems a stored voucher (or decides it is not worth it yet: `now` overrides that). Idempotent:
   * redeeming the same or an older voucher again changes nothing.
   */
  redeem (voucher: VoucherRecord, now?: boolean): Promise<RedemptionRecord>
  redemptions (): Promise<RedemptionRecord[]>
  /**
   * As the payer, on a backend that locks funds: makes our channel to `payee` for a torrent able to
   * pay `funds` in total (opening or topping it up on chain) and returns what it can pay. Absent on
   * the embedded backend, where nothing is locked.
   */
  fundChannel? (payee: string, infoHash: string, funds: bigint): Promise<bigint>
  /** For an operator's metrics, on a backend with a chain: its claim queue and how often the chain failed it. */
  health? (): Promise<SettlementHealth>
}

export interface SettlementHealth {
  /** Claims decided or sent and not yet final. */
  readonly pendingClaims: number
  /** Chain calls that failed (a dead or slow endpoint), this run. */
  readonly chainErrors: number
}

/**
 * Redeems, in rounds, every stored voucher worth more than what was redeemed on its channel. Rounds
 * run apart from the transfer (a synced write per voucher on the hot path slowed it), after new
 * vouchers arrive and at shutdown; redemption is idempotent, so a round cut short by a crash is
 * simply run again.
 */
export class SettlementRounds {
  private pending = false
  private running: Promise<{ error?: string }> | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly heartbeat: NodeJS.Timeout | undefined

  constructor (
    private readonly settlement: Settlement,
    private readonly vouchers: () => Promise<VoucherRecord[]>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
    /** Also run a round this often with nothing new (a chain backend's deadlines and retries); 0 = never. */
    heartbeatMs = 0
  ) {
    if (heartbeatMs > 0) this.heartbeat = setInterval(() => this.markDirty(), heartbeatMs).unref()
  }

  /** Stops the heartbeat (the daemon is stopping). */
  stop (): void {
    clearInterval(this.heartbeat)
  }

  /** Something new to redeem: a round runs within the interval. */
  markDirty (): void {
    this.pending = true
    if (this.timer || this.running) return
    this.timer = setTimeout(() => { this.timer = undefined; void this.round() }, this.intervalMs)
    this.timer.unref()
  }

  /** Runs a round now (and waits for one in progress): at shutdown, for `bidtorrent settle` (`now`: claim regardless of size), and in tests. */
  async flush (now = false): Promise<{ error?: string }> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.running) await this.running
    return this.round(now)
  }

  /** A round: what stopped it (a dead endpoint, say) is reported and logged; it runs again later. */
  private async round (now = false): Promise<{ error?: string }> {
    if (this.running) return this.running
    this.pending = false
    this.running = (async () => {
      let error: string | undefined
      try {
        const redeemed = new Map((await this.settlement.redemptions()).map((record) => [record.channel, BigInt(record.amount)]))
        for (const voucher of await this.vouchers()) {
          if (voucher.backend !== this.settlement.backend) continue
          if ((redeemed.get(voucher.channel) ?? -1n) >= BigInt(voucher.amount)) continue
          await this.settlement.redeem(voucher, now)
        }
      } catch (err) {
        error = errorMessage(err)
        this.onError(err)
      } finally {
        this.running = undefined
      }
      if (this.pending) this.markDirty()
      return error === undefined ? {} : { error }
    })()
    return this.running
  }
}
