/**
 * What a ban names. A peer that sent corrupt data is banned by its IP address, as libtorrent does,
 * so reconnecting from another port does not get it back in. Loopback is the exception: every
 * peer on this machine (a test swarm, a local demo) shares 127.0.0.1, so there the ban names the
 * address and port.
 */
export function banKeyOf (address: string): string {
  const host = hostOf(address)
  return isLoopback(host) ? address : host
}

function hostOf (address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'))
  const colon = address.lastIndexOf(':')
  return colon === -1 ? address : address.slice(0, colon)
}

function isLoopback (host: string): boolean {
  return /^127\./.test(host) || host === '::1' || /^::ffff:127\./i.test(host)
}
