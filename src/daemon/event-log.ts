import type { DaemonEvent, EventsPage, LoggedEvent, TorrentEventView } from './api-types.js'

/** Events kept for the API: the newest; a client that falls further behind starts again from the oldest kept. */
const EVENTS_KEPT = 1000

/**
 * The torrents' typed events, numbered in the order they happened, for the API (`GET /v1/events`):
 * what a remote view follows instead of polling every torrent (libtorrent's alert queue, bounded).
 */
export class EventLog {
  private readonly kept: DaemonEvent[] = []
  private readonly listeners: Array<(infoHash: string, event: LoggedEvent) => void> = []
  private nextSeq = 1

  record (infoHash: string, event: LoggedEvent): void {
    this.kept.push({ seq: this.nextSeq++, at: new Date().toISOString(), infoHash, event: viewOf(event) })
    if (this.kept.length > EVENTS_KEPT) this.kept.shift()
    for (const listener of this.listeners) listener(infoHash, event)
  }

  /** Every event of every torrent, as it is recorded (the daemon's own reactions: onComplete). */
  subscribe (listener: (infoHash: string, event: LoggedEvent) => void): void {
    this.listeners.push(listener)
  }

  /** The events numbered above `after` (0: all kept), oldest first, at most `limit`. */
  after (after: number, limit = EVENTS_KEPT): EventsPage {
    const events = this.kept.filter((event) => event.seq > after).slice(0, limit)
    return { events, next: events.at(-1)?.seq ?? Math.max(after, this.nextSeq - 1) }
  }
}

/** An event as JSON carries it: the metadata event names the torrent instead of carrying its info dictionary. */
function viewOf (event: LoggedEvent): TorrentEventView {
  if (event.type !== 'metadata') return event
  const { name, length, pieceCount } = event.meta
  return { type: 'metadata', name, length, pieceCount }
}
