import { UsageError } from '../util/errors.js'
import { PASSPHRASE_ENV } from '../wallet/paths.js'

/**
 * The one error for a market call (a bid, a floor, a budget, settling, the chain wallet) on a
 * daemon whose market is off: it started without a wallet, or without the passphrase to unlock it.
 */
export function marketOffError (consequence = `it needs a wallet ("bidtorrent wallet create") and $${PASSPHRASE_ENV} when it starts`): UsageError {
  return new UsageError(`the market is off in this daemon: ${consequence}`)
}
