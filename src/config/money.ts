import { formatMoney, isUsdAmount, moneyToBtt, readableBtt, type Money } from '../money/price.js'
import { ConfigError } from '../util/errors.js'
import type { Settings } from './settings.js'

/** The settings that are amounts of money, each given in BTT, base units or USD. */
export const MONEY_SETTINGS = ['paymentThreshold', 'embeddedCreditCap', 'channelDeposit', 'minClaim'] as const
export type MoneySetting = typeof MONEY_SETTINGS[number]

/** Those settings in BTT base units, as the daemon runs with them. */
export type MoneyInBtt = Readonly<Record<MoneySetting, bigint>>

/** What a setting given in USD came to in BTT, to show the user. */
export interface DerivedAmount {
  readonly setting: MoneySetting
  readonly given: string
  readonly btt: string
  readonly readable: string
}

/**
 * Turns the money settings into BTT at `usdPerBtt` (10^-18 USD per BTT), once, when the daemon
 * starts: a limit moves with the price only when the daemon restarts, never under a running
 * channel. A USD setting without a price is a configuration error, said plainly.
 */
export function moneyInBtt (settings: Pick<Settings, MoneySetting>, usdPerBtt: bigint | undefined): { values: MoneyInBtt, derived: DerivedAmount[] } {
  const derived: DerivedAmount[] = []
  const convert = (setting: MoneySetting): bigint => {
    const money: Money = settings[setting]
    if (!isUsdAmount(money)) return money
    if (usdPerBtt === undefined) throw new ConfigError(`${setting} is given in USD (${formatMoney(money)}): set usdPerBtt, or priceSourceUrl, to turn it into BTT`)
    const btt = moneyToBtt(money, usdPerBtt)
    if (btt === 0n && money.usd > 0n) throw new ConfigError(`${setting} (${formatMoney(money)}) is worth less than one base unit of BTT`)
    derived.push({ setting, given: formatMoney(money), btt: btt.toString(), readable: readableBtt(btt) })
    return btt
  }
  const values = Object.fromEntries(MONEY_SETTINGS.map((setting) => [setting, convert(setting)])) as Record<MoneySetting, bigint>
  return { values, derived }
}
