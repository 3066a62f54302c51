import { z } from 'zod'
import { errorMessage } from '../util/errors.js'
import { parseRate, parseSize } from '../util/units.js'

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

/** A byte size: `64MiB`, `1.5GB` or bytes as a number. */
export const sizeSchema = parsed((value) => (typeof value === 'number' ? value : parseSize(value)))
