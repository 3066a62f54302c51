import bencode from 'bencode'
import { BidtorrentError, InvalidTorrentError, UsageError } from '../util/errors.js'
import { defaultPieceLength, v1Format, type CreationFormat, type FormatMaker } from './creation-format.js'
import { hybridFormat, v2Format } from './v2/creation-v2.js'
import { BufferPool, PieceHasher } from './hasher.js'
import { parseTorrentFile, type TorrentMeta } from './metainfo.js'
import { walkSeedPath, type SeedContent, type SeedLimits } from './seed-path.js'
import { SourceFiles } from './source-files.js'

/** How far the hashing of a new torrent is. */
export interface CreationProgress {
  readonly files: number
  readonly hashedBytes: number
  readonly totalBytes: number
}

export interface CreateOptions {
  readonly trackers?: readonly string[]
  /** BEP 19 web seeds: the `url-list`. */
  readonly webSeeds?: readonly string[]
  readonly pieceLength?: number
  readonly private?: boolean
  readonly comment?: string
  /** Which metainfo to make (default v1). */
  readonly format?: FormatName
  /** The hash threads to use (the engine's, which rechecks use too); without it, threads of its own, stopped after. */
  readonly hasher?: PieceHasher
  /** The most files and bytes to consider (see seed-path.ts). */
  readonly limits?: SeedLimits
  /** Called after each read is hashed, and once the walk is done (nothing hashed yet). */
  readonly onProgress?: (progress: CreationProgress) => void
}

/** The formats `seed` can make, by name. */
export const FORMATS = { v1: v1Format, v2: v2Format, hybrid: hybridFormat } satisfies Record<string, FormatMaker>
export type FormatName = keyof typeof FORMATS

const CREATED_BY = 'bidtorrent/0.1.0'
const NO_LIMITS: SeedLimits = { maxFiles: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER }
/**
 * A hash thread is added once one has this many reads waiting: making a torrent wants every core
 * hashing, where a download's verification is content with one thread.
 */
const CREATION_BACKLOG = 2
/** The buffers of one creation hold this much at most (but two reads, whatever the piece length). */
const CREATION_MEMORY = 64 * 1024 * 1024

/**
 * Makes a torrent of a file or folder (v1 unless `format` says otherwise), returning its metadata.
 * The folder is walked and checked first (seed-path.ts); its files are read into pooled shared
 * buffers and hashed on the hash threads, the main thread only moving buffers. `signal` stops the walk and the reads at once
 * (the hashes in flight finish, a few milliseconds).
 */
export async function createTorrentFrom (path: string, options: CreateOptions = {}, signal?: AbortSignal): Promise<TorrentMeta> {
  try {
    signal?.throwIfAborted()
    const content = await walkSeedPath(path, options.limits ?? NO_LIMITS, signal)
    if (content.bytes === 0) throw new InvalidTorrentError(`cannot create a torrent of ${path}: its files are all empty`)
    const pieceLength = options.pieceLength ?? defaultPieceLength(content.bytes)
    if (!Number.isSafeInteger(pieceLength) || pieceLength < 16 * 1024 || (pieceLength & (pieceLength - 1)) !== 0) {
      throw new UsageError(`piece length ${pieceLength} is not a power of two from 16 KiB`)
    }
    const format = FORMATS[options.format ?? 'v1'](content, pieceLength)
    const hasher = options.hasher ?? new PieceHasher()
    try {
      await hashContent(content, format, hasher, options.onProgress, signal)
    } finally {
      if (!options.hasher) await hasher.destroy()
    }
    signal?.throwIfAborted()
    return await parseTorrentFile(encodeTorrent(torrentOf(content.name, pieceLength, format, options), format.torrentTail?.()))
  } catch (err) {
    if (signal?.aborted) throw new BidtorrentError('ECANCELLED', `making the torrent of ${path} was cancelled`)
    throw err
  }
}

/** The .torrent's fields, laid out as create-torrent laid them out (the info dictionary decides the info hash). */
function torrentOf (name: string, pieceLength: number, format: CreationFormat, options: CreateOptions): Record<string, unknown> {
  const trackers = options.trackers ?? []
  return {
    info: { name, 'piece length': pieceLength, ...format.infoFields(), ...(options.private ? { private: 1 } : {}) },
    'creation date': Math.ceil(Date.now() / 1000),
    encoding: 'UTF-8',
    'created by': CREATED_BY,
    ...(trackers.length > 0 ? { announce: trackers[0], 'announce-list': trackers.map((url) => [url]) } : {}),
    ...(options.comment ? { comment: options.comment } : {}),
    ...(options.webSeeds && options.webSeeds.length > 0 ? { 'url-list': [...options.webSeeds] } : {})
  }
}

function encodeTorrent (fields: Record<string, unknown>, tail: Buffer | undefined): Buffer {
  if (!tail) return Buffer.from(bencode.encode(fields))
  // The tail holds 'piece layers': a dictionary's keys are sorted, so those after it ('url-list') follow it.
  const before: Record<string, unknown> = {}
  const after: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) (key < 'piece layers' ? before : after)[key] = value
  return Buffer.concat([Buffer.from(bencode.encode(before)).subarray(0, -1), tail, Buffer.from(bencode.encode(after)).subarray(1)])
}

/**
 * Reads and hashes the content a few reads at a time: each slot takes the next read, reads it into
 * its pooled buffer and hands the buffer to a hash thread, so reads overlap the hashing and every
 * hash thread has work waiting. The first failure stops the others; nothing runs once it returns.
 */
async function hashContent (content: SeedContent, format: CreationFormat, hasher: PieceHasher, onProgress: CreateOptions['onProgress'], signal: AbortSignal | undefined): Promise<void> {
  const slots = Math.max(2, Math.min(hasher.maxThreads * CREATION_BACKLOG + 1, Math.floor(CREATION_MEMORY / format.readBytes)))
  const pool = new BufferPool(format.readBytes, slots)
  const source = new SourceFiles(content.files)
  const reads = format.reads()[Symbol.iterator]()
  const progress = { files: content.files.length, hashedBytes: 0, totalBytes: content.bytes }
  onProgress?.({ ...progress })
  let failed = false
  const slot = async (): Promise<void> => {
    const buffer = pool.acquire()!
    try {
      for (let next = reads.next(); !next.done && !failed; next = reads.next()) {
        signal?.throwIfAborted()
        const read = next.value
        await source.read(read.segments, buffer)
        const dataLength = read.dataLength ?? read.length
        buffer.fill(0, dataLength, read.length)
        format.record(read, await hasher.digest(buffer.subarray(0, read.length), format.digests, CREATION_BACKLOG, dataLength))
        progress.hashedBytes += dataLength
        onProgress?.({ ...progress })
      }
    } catch (err) {
      failed = true
      throw err
    } finally {
      pool.release(buffer)
    }
  }
  const results = await Promise.allSettled(Array.from({ length: slots }, slot))
  await source.close()
  for (const result of results) if (result.status === 'rejected') throw result.reason
}
