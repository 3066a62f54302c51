/**
 * The settlement backends a voucher can be redeemed on: the daemon's own ledger, the channel
 * contract on an EVM chain (BTTC), or on TRON. Bids name one; the configuration chooses one.
 */
export const BACKENDS = ['embedded', 'evm', 'tron'] as const
export type Backend = typeof BACKENDS[number]
