const PEER_ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/

/** `host:port` or `[ipv6]:port` with a port from 1 to 65535: the one rule for peer addresses everywhere. */
export function isPeerAddress (text: string): boolean {
  const match = PEER_ADDRESS.exec(text)
  const port = match ? Number(match[2]) : 0
  return port >= 1 && port <= 65535
}
