import { parseMoney, parseQuote, type Money, type Quote } from '../money/price.js'
import { UsageError, errorMessage } from '../util/errors.js'
import { validateRate } from './options.js'

/** The market flags of `add`, `seed`, `bid` and `floor`: as typed, and in the request body as checked. */
export interface MarketFlags {
  bid?: string
  budget?: string
  floor?: string
  target?: string
}

/** A flag's price or amount read by the daemon's own parser, or a usage error that names the flag. */
function checked<T extends Quote | Money> (flag: string, text: string | undefined, parse: (text: string) => T): T | undefined {
  if (text === undefined) return undefined
  try {
    return parse(text)
  } catch (err) {
    throw new UsageError(`--${flag}: ${errorMessage(err)}`)
  }
}

/**
 * --bid, --budget, --floor and --target, checked here so that a typo exits 2 before the daemon is
 * asked, with the very parsers the daemon's API schema uses; they go as written, and the daemon's
 * edge is where the text becomes a price or an amount. `add` asks for a budget with every bid;
 * `bid` leaves it to the daemon, which uses the torrent's own.
 */
export function marketOptions (options: MarketFlags, bidNeedsBudget = true): MarketFlags {
  const auto = options.bid?.trim().toLowerCase() === 'auto'
  const bid = auto ? 'auto' : checked('bid', options.bid, parseQuote)
  const budget = checked('budget', options.budget, parseMoney)
  checked('floor', options.floor, parseQuote)
  const fields: MarketFlags = {
    ...(options.bid !== undefined ? { bid: auto ? 'auto' : options.bid } : {}),
    ...(options.budget !== undefined ? { budget: options.budget } : {}),
    ...(options.floor !== undefined ? { floor: options.floor } : {})
  }
  if (options.target !== undefined) {
    if (!auto) throw new UsageError('--target goes with an auto bid (--bid auto)')
    fields.target = validateRate(options.target, '--target')!
  }
  if (bidNeedsBudget && bid !== undefined && bid !== 0n && (budget === undefined || budget === 0n)) {
    throw new UsageError('--bid needs --budget: the daemon never spends without a limit')
  }
  return fields
}
