import type { EventEmitter } from 'node:events'

/** The parts of ut_pex (BEP 11) this engine drives. */
export interface PexExtension extends EventEmitter {
  start (): void
  stop (): void
  addPeer (address: string): void
  addPeer6 (address: string): void
  dropPeer (address: string): void
  dropPeer6 (address: string): void
  _sendMessage (): void
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}:\d+$/
const IPV6 = /^\[[0-9a-fA-F:.]+\]:\d+$/

/** Tells the peer about another one we know: "a.b.c.d:port" in `added`, "[v6]:port" in `added6`. */
export function advertise (pex: PexExtension, address: string): void {
  if (IPV4.test(address)) pex.addPeer(address)
  else if (IPV6.test(address)) pex.addPeer6(address)
}

/** Tells the peer that one we advertised has gone. */
export function withdraw (pex: PexExtension, address: string): void {
  if (IPV4.test(address)) pex.dropPeer(address)
  else if (IPV6.test(address)) pex.dropPeer6(address)
}
