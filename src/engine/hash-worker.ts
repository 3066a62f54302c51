import { createHash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'

export interface HashRequest {
  readonly id: number
  /** A view of shared memory (see BufferPool): the worker reads the piece in place. */
  readonly data: Uint8Array
  readonly expected: Uint8Array
  readonly algorithm: 'sha1' | 'sha256'
}

export interface HashReply {
  readonly id: number
  readonly valid: boolean
  readonly error?: string
}

export function pieceMatches ({ data, expected, algorithm }: Pick<HashRequest, 'data' | 'expected' | 'algorithm'>): boolean {
  const digest = createHash(algorithm).update(data).digest()
  return digest.length === expected.length && digest.equals(expected)
}

parentPort?.on('message', (request: HashRequest) => {
  let reply: HashReply
  try {
    reply = { id: request.id, valid: pieceMatches(request) }
  } catch (err) {
    reply = { id: request.id, valid: false, error: err instanceof Error ? err.message : String(err) }
  }
  parentPort!.postMessage(reply)
})
