import { isAbsolute } from 'node:path'
import { z } from 'zod'
import { addressSchema, amountSchema, durationSchema, moneySchema, quoteSchema, rateSchema } from '../config/schemas.js'
import { isUsdAmount } from '../money/price.js'
import { isPeerAddress } from '../util/address.js'
import { UsageError } from '../util/errors.js'

/**
 * The control API's request bodies: the daemon's edge, the one place where their text (prices,
 * amounts, rates) becomes typed values. The services behind it take the parsed requests.
 */

const peerAddress = z.string().refine(isPeerAddress, 'peers are HOST:PORT with a port from 1 to 65535')
const absolutePath = z.string().min(1).refine((value) => isAbsolute(value), 'must be an absolute path')

const fileSelectors = z.array(z.string().min(1, 'an empty file selector').max(4096)).max(10_000)
/** Which files to download: numbers as `info` shows them (from 0) or globs; see engine/file-selection.ts. */
export const fileSelectionSchema = z.object({
  only: fileSelectors.optional(),
  skip: fileSelectors.optional(),
  priority: z.object({ low: fileSelectors.optional(), normal: fileSelectors.optional(), high: fileSelectors.optional() }).strict().optional()
}).strict()

export const filesRequestSchema = fileSelectionSchema
  .refine((body) => [body.only, body.skip, body.priority?.low, body.priority?.normal, body.priority?.high].some((list) => list && list.length > 0),
    'say which files: only, skip or priority')

/** Labels as Transmission takes them: trimmed, not empty, no commas (its lists are comma-separated); duplicates dropped. */
export const labelsSchema = z.array(z.string().trim().min(1, 'an empty label').max(64, 'a label of more than 64 characters')
  .refine((label) => !label.includes(','), 'a label cannot hold a comma').refine((label) => !/\p{Cc}/u.test(label), 'a label cannot hold control characters'))
  .max(32, 'more than 32 labels').transform((labels) => [...new Set(labels)])

const limitChoice = z.enum(['global', 'none'])
/** A torrent's seed ratio limit: its own number, the daemon's setting (`global`), or `none`. */
export const seedRatioSchema = z.union([limitChoice, z.number().min(0).max(10_000)])
/** A torrent's seeding idle limit: its own duration (`30m`), `global` or `none`; seconds once parsed. */
export const seedIdleSchema = z.union([limitChoice, durationSchema])

/** What a torrent keeps beside its transfer: labels and seed limits (`PATCH /v1/torrents/:id/options`, and at add). */
const optionFields = {
  labels: labelsSchema.optional(),
  seedRatio: seedRatioSchema.optional(),
  seedIdle: seedIdleSchema.optional()
}
export const optionsRequestSchema = z.object({ ...optionFields, superSeed: z.boolean().optional() }).strict()
  .refine((body) => Object.values(body).some((value) => value !== undefined), 'say what to change: labels, seedRatio, seedIdle or superSeed')

export const addRequestSchema = z.object({
  ...optionFields,
  files: fileSelectionSchema.optional(),
  /** A .torrent file, base64. */
  torrent: z.string().max(70 * 1024 * 1024).optional(),
  magnet: z.string().max(64 * 1024).optional(),
  directory: absolutePath.optional(),
  peers: z.array(peerAddress).max(1000).default([]),
  paused: z.boolean().default(false),
  uploadLimit: rateSchema.default(0),
  downloadLimit: rateSchema.default(0),
  bid: z.union([z.literal('auto'), quoteSchema]).optional(),
  budget: moneySchema.optional(),
  /** With `bid: "auto"`: the download rate wanted (auto-bid pays only while below it). */
  target: rateSchema.optional(),
  floor: quoteSchema.optional()
}).strict()
  .refine((body) => (body.torrent === undefined) !== (body.magnet === undefined), 'give exactly one of torrent and magnet')
  .refine((body) => body.target === undefined || body.bid === 'auto', { message: 'a target rate goes with an auto bid (--bid auto)', path: ['target'] })
  .refine((body) => body.bid === undefined || body.bid === 0n || (body.budget !== undefined && (isUsdAmount(body.budget) ? body.budget.usd : body.budget) > 0n), { message: 'a bid needs a budget above zero (the daemon never spends without both)', path: ['budget'] })

export const seedRequestSchema = z.object({
  ...optionFields,
  path: absolutePath,
  trackers: z.array(z.string().url()).max(100).default([]),
  webSeeds: z.array(z.string().url().max(2048).refine((url) => /^https?:\/\//i.test(url), 'a web seed is an http or https URL')).max(100).default([]),
  pieceLength: z.number().int().min(16 * 1024).max(64 * 1024 * 1024).refine((n) => (n & (n - 1)) === 0, 'piece length must be a power of two').optional(),
  /** v1 (BEP 3, the default), v2 (BEP 52) or hybrid (both, one byte stream). */
  format: z.enum(['v1', 'v2', 'hybrid']).default('v1'),
  private: z.boolean().default(false),
  /** Initial seeding (BEP 16). */
  superSeed: z.boolean().default(false),
  peers: z.array(peerAddress).max(1000).default([]),
  uploadLimit: rateSchema.default(0),
  floor: quoteSchema.optional()
}).strict()

export const limitsRequestSchema = z.object({
  uploadLimit: rateSchema.optional(),
  downloadLimit: rateSchema.optional()
}).strict()

export const peersRequestSchema = z.object({ peers: z.array(peerAddress).min(1).max(1000) }).strict()

export const openChannelSchema = z.object({ payee: addressSchema, infoHash: z.string().regex(/^[0-9a-f]{40}$/, '40 hex digits'), deposit: amountSchema }).strict()
export const topUpSchema = z.object({ amount: amountSchema }).strict()
export const withdrawSchema = z.object({ to: addressSchema, amount: amountSchema, native: z.boolean().optional() }).strict()

export const bidRequestSchema = z.object({ price: z.union([z.literal('auto'), quoteSchema]), budget: moneySchema.optional(), target: rateSchema.optional() }).strict()
  .refine((body) => body.target === undefined || body.price === 'auto', { message: 'a target rate goes with an auto bid (auto)', path: ['target'] })
/** Where a torrent's data goes: `move` its files there (the default), or only look for them there and check them. */
export const locationRequestSchema = z.object({ directory: absolutePath, move: z.boolean().default(true) }).strict()
export const floorRequestSchema = z.object({ floor: quoteSchema.nullable() }).strict()

/** What a client sends (before parsing: prices, amounts and rates as text or numbers). */
export type AddBody = z.input<typeof addRequestSchema>
export type SeedBody = z.input<typeof seedRequestSchema>
export type LimitsBody = z.input<typeof limitsRequestSchema>
export type BidBody = z.input<typeof bidRequestSchema>
export type FloorBody = z.input<typeof floorRequestSchema>
export type FilesBody = z.input<typeof filesRequestSchema>
export type OptionsBody = z.input<typeof optionsRequestSchema>
export type LocationBody = z.input<typeof locationRequestSchema>
export type OpenChannelBody = z.input<typeof openChannelSchema>
export type TopUpBody = z.input<typeof topUpSchema>
export type WithdrawBody = z.input<typeof withdrawSchema>

/** The same, parsed: what the services take. */
export type AddRequest = z.output<typeof addRequestSchema>
export type SeedRequest = z.output<typeof seedRequestSchema>
export type LimitsRequest = z.output<typeof limitsRequestSchema>
export type PeersRequest = z.output<typeof peersRequestSchema>
export type OpenChannelRequest = z.output<typeof openChannelSchema>
export type TopUpRequest = z.output<typeof topUpSchema>
export type WithdrawRequest = z.output<typeof withdrawSchema>
export type BidRequest = z.output<typeof bidRequestSchema>
export type FloorRequest = z.output<typeof floorRequestSchema>
export type FilesRequest = z.output<typeof filesRequestSchema>
export type OptionsRequest = z.output<typeof optionsRequestSchema>
export type LocationRequest = z.output<typeof locationRequestSchema>

/** A request body as its schema reads it, or a usage error (HTTP 400) naming each field at fault. */
export function parseInput<T extends z.ZodType> (schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input)
  if (!result.success) {
    throw new UsageError(result.error.issues.map((issue) => `${issue.path.join('.') || 'request'}: ${issue.message}`).join('; '))
  }
  return result.data
}
