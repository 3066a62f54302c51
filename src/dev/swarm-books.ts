import { setTimeout as sleep } from 'node:timers/promises'
import type { TorrentView, VoucherTotals } from '../api/types.js'
import type { TradeTotals } from '../market/torrent-market.js'
import type { ChildDaemon } from './processes.js'

/**
 * The swarm's books, read back from both sides of every payment channel at the end of a run: what
 * each bidder owes for the bytes it verified, what it paid, and what the seller says it earned.
 */

/** One payment channel, as each side's books have it. */
export interface ChannelBooks {
  readonly payer: string
  readonly payee: string
  /** Verified bytes the payer bought on it, and what they cost at the agreed rates (the payer's meter). */
  readonly boughtBytes: number
  readonly owedForVerified: string
  /** The payer's spending on it (what the payee confirmed), and the payee's earnings from it. */
  readonly paid: string
  readonly earned: string
  readonly signedNotAccepted: string
  /** What the payee charged for the bytes it sent (its meter: includes pieces that failed or never verified). */
  readonly chargedBySeller: string
  /** paid − owed for verified bytes, and paid − earned: both exactly 0 when the market keeps its promise. */
  readonly paymentError: string
  readonly booksGap: string
}

/** A daemon of the swarm whose books are read: its name, and its wallet (null: a free peer, which keeps none). */
export interface BookKeeper {
  readonly name: string
  readonly daemon: ChildDaemon
  readonly wallet: string | null
}

/** How long the books may take to settle after the deadline of the download itself. */
const SETTLE_GRACE_MS = 30_000
/** The books are read this often while they settle, and count as settled after this many equal readings. */
const SETTLE_POLL_MS = 500
const STEADY_READINGS = 3

function channelTotal (totals: VoucherTotals, infoHash: string, wallet: string): { amount: bigint, signedNotAccepted: bigint } {
  const channel = totals.torrents.find((torrent) => torrent.infoHash === infoHash)?.peers.find((peer) => peer.wallet === wallet)
  return { amount: BigInt(channel?.amount ?? '0'), signedNotAccepted: BigInt(channel?.signedNotAccepted ?? '0') }
}

function tradeWith (view: TorrentView | undefined, wallet: string | null): TradeTotals | undefined {
  return view?.market?.trades.find((trade) => trade.wallet === wallet)
}

/** Every channel between these buyers and sellers, as both sides' books have it now. */
export async function readChannelBooks (sellers: ReadonlyArray<BookKeeper & { readonly wallet: string }>, buyers: readonly BookKeeper[], infoHash: string): Promise<ChannelBooks[]> {
  const earnings = await Promise.all(sellers.map(async (seller) => ({ ...seller, totals: await seller.daemon.api.request<VoucherTotals>('GET', '/v1/earnings'), view: await seller.daemon.api.request<TorrentView>('GET', `/v1/torrents/${infoHash}`) })))
  const books: ChannelBooks[] = []
  for (const buyer of buyers) {
    if (!buyer.wallet) continue
    const spending = await buyer.daemon.api.request<VoucherTotals>('GET', '/v1/spending')
    const view = await buyer.daemon.api.request<TorrentView>('GET', `/v1/torrents/${infoHash}`)
    for (const seller of earnings) {
      const paid = channelTotal(spending, infoHash, seller.wallet)
      const earned = channelTotal(seller.totals, infoHash, buyer.wallet).amount
      const trade = tradeWith(view, seller.wallet)
      const owed = BigInt(trade?.owedToThem ?? '0')
      books.push({
        payer: buyer.name,
        payee: seller.name,
        boughtBytes: trade?.boughtBytes ?? 0,
        owedForVerified: owed.toString(),
        paid: paid.amount.toString(),
        earned: earned.toString(),
        signedNotAccepted: paid.signedNotAccepted.toString(),
        chargedBySeller: tradeWith(seller.view, buyer.wallet)?.chargedToThem ?? '0',
        paymentError: (paid.amount - owed).toString(),
        booksGap: (paid.amount - earned).toString()
      })
    }
  }
  return books
}

/**
 * The last vouchers leave within a fraction of a second of the last pieces, and each seller
 * confirms each one: reads the books until both sides stand still and agree, or until a grace
 * period past the download's `deadline`, and returns the last reading (which says where they differ).
 */
export async function steadyChannelBooks (read: () => Promise<ChannelBooks[]>, deadline: number): Promise<ChannelBooks[]> {
  let channels = await read()
  for (let steady = 0; steady < STEADY_READINGS && Date.now() < deadline + SETTLE_GRACE_MS;) {
    await sleep(SETTLE_POLL_MS)
    const next = await read()
    const settled = next.every((channel, i) => channel.paid === channels[i]?.paid && channel.signedNotAccepted === '0' && channel.booksGap === '0')
    steady = settled ? steady + 1 : 0
    channels = next
  }
  return channels
}
