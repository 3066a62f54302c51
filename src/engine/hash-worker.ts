import { createHash } from 'node:crypto'

export interface HashTask {
  readonly data: Uint8Array
  readonly expected: Uint8Array
  readonly algorithm: 'sha1' | 'sha256'
}

/** Runs in a worker thread: piece data arrives in shared memory, so nothing is copied. */
export default function verifyPiece ({ data, expected, algorithm }: HashTask): boolean {
  const digest = createHash(algorithm).update(data).digest()
  return digest.length === expected.length && digest.equals(expected)
}
