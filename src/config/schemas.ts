import { z } from 'zod'
import { errorMessage } from '../util/errors.js'
import { addressRule, isWalletAddress } from '../money/address.js'
import { isUsdAmount, parseAmount, parseMoney, parsePrice, parseQuote, type Money, type Quote } from '../money/price.js'
import { parseDuration, parseRate, parseSize } from '../util/units.js'

function parsed (parse: (value: string | number) => number): z.ZodType<number, string | number> {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    try {
      return parse(value)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: errorMessage(err) })
      return z.NEVER
    }
  })
}

/** A transfer rate: `20MiB/s`, `500KB/s`, `0` (unlimited) or bytes per second as a number. */
export const rateSchema = parsed(parseRate)

/** A duration with its unit (`30m`, `5s`, `2h`, `1d`), as whole seconds. */
export const durationSchema = z.string().transform((value, ctx) => {
  try {
    return parseDuration(value)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) })
    return z.NEVER
  }
})

/** A byte size: `64MiB`, `1.5GB` or bytes as a number. */
export const sizeSchema = parsed((value) => (typeof value === 'number' ? value : parseSize(value)))

function parsedAmount<T> (parse: (value: string) => T): z.ZodType<T, string | number> {
  // Past 2^53 a JSON number has lost digits already: such amounts must be written as strings.
  return z.union([z.string(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER, 'write amounts past 2^53 as strings')]).transform((value, ctx) => {
    try {
      return parse(String(value))
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: errorMessage(err) })
      return z.NEVER
    }
  })
}

/** A price per MiB: `0.5BTT/MiB`, `2BTT/GiB`, or base units per MiB. */
export const priceSchema = parsedAmount(parsePrice)

/** A bid or a floor that may be quoted in USD (`0.05USD/GiB`) as well as in BTT or base units. */
export const quoteSchema = parsedAmount<Quote>(parseQuote)

/** An amount: `25BTT`, `0.5BTT`, or base units. */
export const amountSchema = parsedAmount(parseAmount)

/** An amount that may be given in USD (`0.05USD`) as well as in BTT or base units. */
export const moneySchema = parsedAmount<Money>(parseMoney)

/** The same, above zero. */
export const positiveMoneySchema = moneySchema.refine((money) => (isUsdAmount(money) ? money.usd : money) > 0n, 'must be above zero')

/** A wallet or contract address, TRON (T…) or EVM (0x…): the one check (money/address.ts). */
export const addressSchema = z.string().refine((text) => isWalletAddress(text, 'tron-or-evm'), `must be ${addressRule('tron-or-evm')}`)
