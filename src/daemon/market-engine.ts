import type { Engine } from '../engine/engine.js'
import type { Torrent } from '../engine/torrent.js'
import type { TorrentMarket } from '../market/torrent-market.js'

// The engine knows only its market port; the daemon's torrents trade through its TorrentMarket.
export type MarketEngine = Engine<TorrentMarket>
export type MarketTorrent = Torrent<TorrentMarket>
