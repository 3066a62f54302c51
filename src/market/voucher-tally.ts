/**
 * This run's voucher traffic in one torrent's market, counted for metrics and the API: how many,
 * never how much (amounts live in the stored vouchers and the ledgers, the books of record).
 */
export interface VoucherTally {
  /** As buyer: vouchers signed and sent to a connected seller. */
  sent: number
  /** As buyer: our latest voucher sent again on a new connection (the seller may not have it). */
  resent: number
  /** As buyer: receipts from sellers, each saying what they hold of our vouchers. */
  receipts: number
  /** As buyer: vouchers a seller refused. */
  refusedBySeller: number
  /** As seller: vouchers that arrived (one arriving while another is being stored supersedes it). */
  received: number
  /** As seller: checked and stored durably. */
  accepted: number
  /** As seller: the voucher we already held (a buyer re-sends its latest on each connection). */
  repeated: number
  /** As seller: refused by our checks, by the code the buyer was told. */
  refused: Record<string, number>
}

export function emptyVoucherTally (): VoucherTally {
  return { sent: 0, resent: 0, receipts: 0, refusedBySeller: 0, received: 0, accepted: 0, repeated: 0, refused: {} }
}

export function countRefusal (tally: VoucherTally, code: string): void {
  tally.refused[code] = (tally.refused[code] ?? 0) + 1
}
