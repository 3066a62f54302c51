import { createHash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import { pieceRoot } from './v2/merkle.js'

export interface HashRequest {
  readonly id: number
  /** A view of shared memory (see BufferPool): the worker reads the piece in place. */
  readonly data: Uint8Array
  readonly expected: Uint8Array
  /** 'merkle': `expected` is the root of BEP 52's subtree of `leaves` leaves over the piece's 16 KiB blocks. */
  readonly algorithm: 'sha1' | 'sha256' | 'merkle'
  readonly leaves?: number
}

/**
 * Hash `data` in slices of `sliceLength` bytes (the last one may be shorter), one digest each:
 * a batch of v1 pieces is SHA-1 by piece length; v2's merkle leaves (BEP 52) are SHA-256 by 16 KiB.
 */
export interface SliceDigest {
  readonly algorithm: 'sha1' | 'sha256'
  readonly sliceLength: number
  /** Over the request's first `dataLength` bytes only (v2's leaves stop at the file's end; a hybrid's v1 pieces go on through the pad zeros). */
  readonly dataOnly?: boolean
}

/** Digests to compute, not to compare (making a torrent): one per slice, for each of `digests`. */
export interface DigestRequest {
  readonly id: number
  /** A view of shared memory, as for HashRequest. */
  readonly data: Uint8Array
  readonly digests: readonly SliceDigest[]
  readonly dataLength?: number
}

export interface HashReply {
  readonly id: number
  readonly valid: boolean
  /** For a DigestRequest: for each of its `digests`, the slices' digests end to end. */
  readonly digests?: Uint8Array[]
  readonly error?: string
}

export function pieceMatches ({ data, expected, algorithm, leaves }: Pick<HashRequest, 'data' | 'expected' | 'algorithm' | 'leaves'>): boolean {
  const digest = algorithm === 'merkle' ? pieceRoot(data, leaves ?? 1) : createHash(algorithm).update(data).digest()
  return digest.length === expected.length && digest.equals(expected)
}

const DIGEST_BYTES = { sha1: 20, sha256: 32 } as const

export function sliceDigests (data: Uint8Array, { algorithm, sliceLength }: SliceDigest): Uint8Array {
  if (!Number.isSafeInteger(sliceLength) || sliceLength <= 0) throw new Error(`invalid slice length ${sliceLength}`)
  const size = DIGEST_BYTES[algorithm]
  const slices = Math.ceil(data.length / sliceLength)
  // Its own memory, not a view of the pooled digest buffers: it travels back to the caller.
  const out = new Uint8Array(slices * size)
  for (let slice = 0; slice < slices; slice++) {
    const from = slice * sliceLength
    out.set(createHash(algorithm).update(data.subarray(from, Math.min(data.length, from + sliceLength))).digest(), slice * size)
  }
  return out
}

function answer (request: HashRequest | DigestRequest): HashReply {
  if ('digests' in request) {
    const { data, dataLength } = request
    return { id: request.id, valid: true, digests: request.digests.map((digest) => sliceDigests(digest.dataOnly ? data.subarray(0, dataLength) : data, digest)) }
  }
  return { id: request.id, valid: pieceMatches(request) }
}

parentPort?.on('message', (request: HashRequest | DigestRequest) => {
  let reply: HashReply
  try {
    reply = answer(request)
  } catch (err) {
    reply = { id: request.id, valid: false, error: err instanceof Error ? err.message : String(err) }
  }
  parentPort!.postMessage(reply)
})
