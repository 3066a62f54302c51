/** Base class: every failure this project reports has a stable code and a one-line message. */
export class BidtorrentError extends Error {
  constructor (readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** The user asked for something malformed (bad flag, bad rate, bad magnet). */
export class UsageError extends BidtorrentError {
  constructor (message: string) { super('EUSAGE', message) }
}

/** A configuration file or environment variable failed validation. */
export class ConfigError extends BidtorrentError {
  constructor (message: string, options?: { cause?: unknown }) { super('ECONFIG', message, options) }
}

/** A .torrent file, info dictionary or magnet link is not usable. */
export class InvalidTorrentError extends BidtorrentError {
  constructor (message: string, options?: { cause?: unknown }) { super('EINVALIDTORRENT', message, options) }
}

/** A torrent the caller named is not known to the daemon. */
export class TorrentNotFoundError extends BidtorrentError {
  constructor (id: string) { super('ENOTFOUND', `no torrent matches "${id}"`) }
}

/** The CLI could not reach (or authenticate with) the daemon's control API. */
export class DaemonUnreachableError extends BidtorrentError {
  constructor (message: string) { super('EDAEMON', message) }
}

/** A remote peer broke the wire protocol; the connection is dropped, the daemon carries on. */
export class PeerProtocolError extends BidtorrentError {
  constructor (message: string) { super('EPEERPROTOCOL', message) }
}

export function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  // Some libraries (tronweb among them) reject with plain objects: show what they hold.
  if (typeof err === 'object' && err !== null) {
    try {
      return JSON.stringify(err)
    } catch {
      return String(err)
    }
  }
  return String(err)
}
