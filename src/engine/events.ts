import type { TorrentMeta } from './metainfo.js'

export type TorrentState = 'metadata' | 'checking' | 'downloading' | 'seeding' | 'paused' | 'error'

/**
 * What a torrent tells whoever watches it (the daemon, its API), as libtorrent's alerts: one
 * union, each kind with its own data, so a listener's `switch` is checked by the compiler.
 */
export type TorrentEvent =
  | { readonly type: 'state', readonly state: TorrentState, readonly error: string | null }
  /** A magnet's metadata arrived from peers (and matches the info hash). */
  | { readonly type: 'metadata', readonly meta: TorrentMeta }
  | { readonly type: 'peer-connected', readonly address: string }
  /** A piece passed its hash check and is written; `senders` sent its blocks. */
  | { readonly type: 'piece-verified', readonly index: number, readonly senders: readonly string[] }
  /**
   * A piece failed its hash check; `senders` sent the bad data and are blamed. `badBlocks`: the
   * blocks of a v2 piece its block hashes (BEP 52) found bad, the only ones fetched again; null
   * when the whole piece is fetched again.
   */
  | { readonly type: 'hash-failed', readonly index: number, readonly senders: readonly string[], readonly badBlocks: readonly number[] | null }
  | { readonly type: 'peer-banned', readonly address: string, readonly reason: string }
  /** Every piece is verified (downloaded in this run, or found complete at start). */
  | { readonly type: 'complete' }

export type TorrentEventListener = (event: TorrentEvent) => void

/** The listeners of one torrent. A listener that throws does not stop the torrent or the others. */
export class TorrentEvents {
  private readonly listeners = new Set<TorrentEventListener>()

  /** Returns the function that removes the listener. */
  on (listener: TorrentEventListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  emit (event: TorrentEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch (err) {
        queueMicrotask(() => { throw err })
      }
    }
  }
}
