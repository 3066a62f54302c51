import { Server } from 'bittorrent-tracker'
import type { SwarmTracker } from './swarm.js'

/**
 * An HTTP tracker on 127.0.0.1 in this process (webtorrent's bittorrent-tracker), for the demo: it
 * needs nothing installed. It answers for `infoHash` only, and tells clients to announce every 10 s
 * so that peers joining late are found by the ones that came first.
 */
export async function startBuiltinTracker (port: number, infoHash: string): Promise<SwarmTracker> {
  const server = new Server({
    http: true,
    udp: false,
    ws: false,
    stats: false,
    interval: 10_000,
    filter: (requested, _params, callback) => callback(requested === infoHash ? null : new Error('unknown torrent'))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  // A client that misbehaves is the tracker's concern, not the demo's.
  server.on('warning', () => {})
  server.on('error', () => {})
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}
