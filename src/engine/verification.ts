import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'
import type { PieceProgress } from './blocks.js'
import type { TorrentContent } from './content.js'
import type { PieceHasher } from './hasher.js'
import { checkPiece } from './piece-check.js'

/** What became of a piece whose blocks are all in. */
export type Verdict =
  /** Hashed, written, and recorded: it counts as verified. */
  | { readonly kind: 'verified' }
  /** Its data does not match its hash: its senders are to blame. */
  | { readonly kind: 'corrupt' }
  /** The hash threads failed twice: it says nothing about the data; fetch it again. */
  | { readonly kind: 'unhashed' }
  /** The torrent stopped, or the piece was given up, while it was hashed: nothing to do. */
  | { readonly kind: 'dropped' }
  /** It could not be written (or recorded): the torrent cannot go on. */
  | { readonly kind: 'unwritable', readonly error: string }

export interface VerifierInit {
  readonly hasher: PieceHasher
  readonly log: Logger
  readonly infoHash: string
  /** Awaited before a piece that passed its hash check counts as verified (the daemon records it first). */
  readonly beforeVerified: ((index: number) => Promise<void>) | undefined
  /** Whether the piece is still wanted once hashed (the torrent alive, the piece not given up). */
  readonly wanted: (piece: PieceProgress) => boolean
}

/**
 * Hashes complete pieces off the main thread and writes the good ones. It keeps the verifications
 * in flight, so that pause and destroy can wait for them and nothing changes after they return.
 */
export class PieceVerifier {
  private readonly running = new Set<Promise<unknown>>()
  /** Pieces that failed their hash check. */
  hashFailures = 0

  constructor (private readonly init: VerifierInit) {}

  verify (content: TorrentContent, piece: PieceProgress): Promise<Verdict> {
    const verification = this.check(content, piece)
    this.running.add(verification)
    void verification.finally(() => this.running.delete(verification))
    return verification
  }

  /** Resolves once every verification under way, and any started meanwhile, has settled. */
  async settle (): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running])
  }

  private async check (content: TorrentContent, piece: PieceProgress): Promise<Verdict> {
    const { log, infoHash } = this.init
    piece.verifying = true
    const data = piece.buffer.subarray(0, piece.length)
    let valid: boolean | undefined
    // A hash thread that dies (it is restarted) says nothing about the data: try once more, and if
    // hashing still fails, fetch the piece again without blaming its senders.
    for (let attempt = 1; attempt <= 2 && valid === undefined; attempt++) {
      try {
        valid = await checkPiece(this.init.hasher, content.meta, piece.index, data)
      } catch (err) {
        log.error('hashing failed', { infoHash, piece: piece.index, attempt, error: errorMessage(err) })
      }
    }
    if (!this.init.wanted(piece)) return { kind: 'dropped' }
    if (valid === undefined) return { kind: 'unhashed' }
    if (!valid) {
      this.hashFailures++
      return { kind: 'corrupt' }
    }
    try {
      await content.storage.writePiece(piece.index, data)
      await this.init.beforeVerified?.(piece.index)
    } catch (err) {
      return { kind: 'unwritable', error: `cannot write piece ${piece.index}: ${errorMessage(err)}` }
    }
    return { kind: 'verified' }
  }
}
