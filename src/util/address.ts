import { BlockList, isIPv4, isIPv6 } from 'node:net'

const PEER_ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/

/** `host:port` or `[ipv6]:port` with a port from 1 to 65535: the one rule for peer addresses everywhere. */
export function isPeerAddress (text: string): boolean {
  const match = PEER_ADDRESS.exec(text)
  const port = match ? Number(match[2]) : 0
  return port >= 1 && port <= 65535
}

/** Where no peer can be: "this host" (which Linux connects to as this machine), multicast and broadcast. */
const UNCALLABLE = new BlockList()
UNCALLABLE.addSubnet('0.0.0.0', 8, 'ipv4')
UNCALLABLE.addSubnet('224.0.0.0', 3, 'ipv4')
UNCALLABLE.addAddress('::', 'ipv6')
UNCALLABLE.addSubnet('ff00::', 8, 'ipv6')

/**
 * Whether an address learned from the swarm is one to call. A hostile peer's list must not aim
 * our connections anywhere odd.
 */
export function isCallableAddress (text: string): boolean {
  if (!isPeerAddress(text)) return false
  const host = PEER_ADDRESS.exec(text)![1]!.replace(/^\[|\]$/g, '')
  if (isIPv4(host)) return !UNCALLABLE.check(host, 'ipv4')
  if (isIPv6(host)) return !UNCALLABLE.check(host, 'ipv6')
  return true
}
