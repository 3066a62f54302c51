import { readFileSync, existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { isIP } from 'node:net'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError, errorMessage } from '../util/errors.js'
import { PROJECT_ROOT } from '../util/project.js'
import { BACKENDS } from '../money/backends.js'
import { addressSchema, durationSchema, moneySchema, positiveMoneySchema, quoteSchema, rateSchema, sizeSchema } from './schemas.js'

const port = z.number().int().min(0).max(65535)
const seconds = z.number().positive().max(86_400)

export const settingsSchema = z.object({
  port,
  listenHost: z.string().min(1),
  /** Peer connections over TCP and over uTP (BEP 29, UDP on the same port): at least one. */
  tcp: z.boolean(),
  utp: z.boolean(),
  /**
   * Message stream encryption (MSE/PE) with peers: 'plaintext' never, 'prefer' calls encrypted
   * first and retries in plaintext when the peer closes (libtorrent's default), 'require' only
   * encrypted, both ways.
   */
  encryption: z.enum(['plaintext', 'prefer', 'require']),
  /** Encrypt the payload too (RC4) rather than only the handshake; false takes plaintext where the peer allows. */
  encryptPayload: z.boolean(),
  apiPort: port,
  /**
   * The address the control API (and its Transmission RPC) listens on: 127.0.0.1 unless the user
   * names another (an IP address; 0.0.0.0 or :: for every one). Off the loopback, anyone who can
   * reach it and holds the token drives the daemon, over plain HTTP.
   */
  apiHost: z.string().refine((value) => isIP(value) !== 0, 'apiHost must be an IP address (127.0.0.1, ::1, 0.0.0.0, :: or one of this machine\'s)'),
  /**
   * Host names the control API and its Transmission RPC answer to besides IP addresses and
   * localhost (Transmission's rpc-host-whitelist, against DNS rebinding).
   */
  rpcAllowedHosts: z.array(z.string().min(1).max(253)).max(100),
  /** A folder holding a web client for the RPC (Transmission's own), served at /transmission/web/; null: none. */
  rpcWebFolder: z.string().min(1).nullable(),
  dht: z.boolean(),
  /** host:port pairs; null = the public bootstrap nodes. */
  dhtBootstrap: z.array(z.string()).nullable(),
  lsd: z.boolean(),
  /** Peer exchange (BEP 11) on public torrents. */
  pex: z.boolean(),
  uploadLimit: rateSchema,
  downloadLimit: rateSchema,
  downloadDir: z.string().nullable(),
  maxPeersPerTorrent: z.number().int().min(1).max(10_000),
  maxHalfOpenConnections: z.number().int().min(1).max(1000),
  uploadSlots: z.number().int().min(1).max(1000),
  optimisticSlots: z.number().int().min(0).max(100),
  optimisticUnchokeIntervalSeconds: seconds,
  rechokeIntervalSeconds: seconds,
  chokerHysteresis: z.number().min(0).max(10),
  requestTimeoutSeconds: seconds,
  snubTimeoutSeconds: seconds,
  banAfterHashFailures: z.number().int().min(1).max(1000),
  pieceCacheSize: sizeSchema,
  maxInFlightSize: sizeSchema,
  announceIntervalSeconds: z.number().min(10).max(86_400),
  /**
   * Use web seeds (BEP 19) whose host is on this machine or a private network. Off: a .torrent
   * from anywhere may name any URL, and must not make this daemon call the user's router or LAN.
   */
  webSeedsAllowPrivate: z.boolean(),
  /** `seed` refuses a path with more files or bytes than this, before it hashes anything. */
  seedMaxFiles: z.number().int().min(1).max(10_000_000),
  seedMaxBytes: sizeSchema,
  resumeSaveIntervalSeconds: seconds,
  /** Offer the bid extension (it also needs a wallet, unlocked with $BIDTORRENT_PASSPHRASE). */
  market: z.boolean(),
  /**
   * The lowest bid a torrent sells upload slots for, per MiB (BTT or USD), unless it sets its own;
   * 0 = it sells nothing (it serves every peer by the usual reciprocity and announces no floor).
   */
  marketFloor: quoteSchema,
  marketClearing: z.enum(['uniform', 'pay-as-bid']),
  /** Share of upload slots never sold (non-bidders keep them), and at least this many slots. */
  marketReservedShare: z.number().min(0).max(1),
  marketMinReservedSlots: z.number().int().min(1).max(1000),
  /**
   * A bidder owing this much is asked to pay; past it by the tolerance, it is choked until it does.
   * This and the other amounts below take BTT, base units or USD (`0.0005USD`, turned into BTT at start).
   */
  paymentThreshold: positiveMoneySchema,
  paymentTolerancePercent: z.number().int().min(0).max(1000),
  /** Embedded settlement: the most a channel may owe in IOUs (nothing backs them). */
  embeddedCreditCap: moneySchema,
  /** The chain id embedded vouchers are signed for. */
  embeddedChainId: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /**
   * Where vouchers become money: 'embedded' (unbacked IOUs in this daemon's ledger), 'evm' (the
   * channel contract on BTTC or any EVM chain: chainRpcUrl and channelContract, chainId to pin it),
   * or 'tron' (the contract on TRON: chainRpcUrl is the full node, channelContract a T… address).
   */
  settlement: z.enum(BACKENDS),
  chainRpcUrl: z.string().url().nullable(),
  chainId: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).nullable(),
  channelContract: addressSchema.nullable(),
  /** Claim on chain once a channel's unclaimed amount reaches this (and always before its end). */
  minClaim: moneySchema,
  /**
   * And only once it is worth this many times the claim's fee (estimated gas × gas price), where
   * the fee is paid in the coin the channel pays in (BTT on BTTC); 0 turns the check off.
   */
  claimFeeMultiple: z.number().min(0).max(1_000_000),
  /** As a buyer: fund channels with this token (ERC-20, or TRC-20 on TRON: BTT is TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4) instead of the native coin. */
  channelToken: addressSchema.nullable(),
  /** As a buyer on a chain: the deposit a channel to one seller is funded with at a time. */
  channelDeposit: positiveMoneySchema,
  channelLifetimeSeconds: z.number().int().min(3600).max(365 * 86_400),
  /** Vouchers on a channel this close to its end are not accepted, and its claim is made regardless of size. */
  claimSafetySeconds: z.number().int().min(60).max(30 * 86_400),
  /**
   * The BTT price in USD (a decimal) for everything quoted in USD, and the fallback while a price
   * source (priceSourceUrl) has not answered; null = none (USD quotes are refused).
   */
  usdPerBtt: z.string().regex(/^\d+(\.\d{1,18})?$/, 'a decimal number of USD per BTT').refine((text) => /[1-9]/.test(text), 'must be above zero').nullable(),
  priceSourceUrl: z.string().url().nullable(),
  /** Where the price sits in the source's JSON (dot-separated). */
  priceSourcePath: z.string(),
  priceRefreshSeconds: z.number().int().min(5).max(86_400),
  /** Opt-in auto-bid (the BTT whitepaper's rule) for torrents added with a budget. */
  autoBid: z.boolean(),
  autoBidSpendingRate: z.number().min(0).max(1),
  /** Errors escaping to the process's last-resort handlers before the daemon exits (code 70) for a supervisor to restart it. */
  maxInternalErrors: z.number().int().min(1).max(1_000_000),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']),
  /** Write the log to this file instead of standard output, rolled over at `logFileMaxSize` with `logFilesKept` kept. */
  logFile: z.string().min(1).nullable(),
  logFileMaxSize: sizeSchema.refine((bytes) => bytes >= 16 * 1024, 'at least 16KiB'),
  logFilesKept: z.number().int().min(1).max(1000),
  /**
   * A command run through /bin/sh when a torrent finishes downloading, with the torrent in its
   * environment (BIDTORRENT_TORRENT_ID, _NAME, _DIR, _PATH, and Transmission's TR_TORRENT_*).
   */
  onComplete: z.string().min(1).nullable(),
  /**
   * Stop seeding a torrent once it uploaded this many times its size (Transmission's seedRatioLimit),
   * or once it was idle (no byte sent or received) this long (`30m`, `2h`); null = never. A torrent
   * may set its own. Then `seedLimitAction`: pause it, or remove it (its data stays).
   */
  seedRatioLimit: z.number().min(0).max(10_000).nullable(),
  seedIdleLimit: durationSchema.nullable(),
  seedLimitAction: z.enum(['pause', 'remove']),
  /** .torrent files that appear in this folder are added, then renamed to NAME.torrent.added (Transmission's watch-dir). */
  watchFolder: z.string().min(1).nullable(),
  logFormat: z.enum(['json', 'pretty'])
}).strict()

export type Settings = z.output<typeof settingsSchema>
type RawSettings = Record<string, unknown>

const DEFAULT_CONFIG = join(PROJECT_ROOT, 'config', 'default.json')

export function defaultDataDir (env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.BIDTORRENT_DATA_DIR ?? join(homedir(), '.bidtorrent'))
}

export interface LoadSettingsOptions {
  readonly dataDir: string
  /** An explicit user config file; otherwise `<dataDir>/config.json` is read if it exists. */
  readonly configFile?: string
  readonly env?: NodeJS.ProcessEnv
  /** Command-line flags, already named like settings keys; they win over everything. */
  readonly overrides?: RawSettings
}

/** Layers config/default.json < user config file < BIDTORRENT_* environment < flags, then validates once. */
export function loadSettings (options: LoadSettingsOptions): Settings {
  const env = options.env ?? process.env
  const defaults = readJsonFile(DEFAULT_CONFIG)
  const userFile = options.configFile ?? env.BIDTORRENT_CONFIG ?? join(options.dataDir, 'config.json')
  const explicit = options.configFile !== undefined || env.BIDTORRENT_CONFIG !== undefined
  if (explicit && !existsSync(userFile)) throw new ConfigError(`config file ${userFile} does not exist`)
  const user = existsSync(userFile) ? readJsonFile(userFile) : {}
  for (const key of Object.keys(user)) {
    if (!(key in settingsSchema.shape)) throw new ConfigError(`${userFile}: unknown setting "${key}"`)
  }
  const merged: RawSettings = { ...defaults, ...user, ...fromEnvironment(env), ...(options.overrides ?? {}) }
  const result = settingsSchema.safeParse(merged)
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`)
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  }
  if (!result.data.tcp && !result.data.utp) throw new ConfigError('invalid configuration: tcp and utp are both false: peers could reach this daemon by neither')
  return result.data
}

/** The settings as config/default.json gives them, before any user file, environment or flag. */
export function builtInSettings (): Settings {
  return settingsSchema.parse(readJsonFile(DEFAULT_CONFIG))
}

function readJsonFile (path: string): RawSettings {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${errorMessage(err)}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${errorMessage(err)}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`)
  }
  return value as RawSettings
}

/** BIDTORRENT_UPLOAD_LIMIT=20MiB/s sets uploadLimit; values are read as JSON when they parse, else as strings. */
function fromEnvironment (env: NodeJS.ProcessEnv): RawSettings {
  const result: RawSettings = {}
  for (const key of Object.keys(settingsSchema.shape)) {
    const name = `BIDTORRENT_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`
    const value = env[name]
    if (value === undefined) continue
    // Whole numbers past 2^53 (amounts in base units) stay strings: JSON would round them.
    if (/^\d+$/.test(value) && !Number.isSafeInteger(Number(value))) {
      result[key] = value
      continue
    }
    try {
      result[key] = JSON.parse(value)
    } catch {
      result[key] = value
    }
  }
  return result
}
