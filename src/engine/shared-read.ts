import type { OnReadOpts, Socket } from 'node:net'

/**
 * One 64 KiB read buffer for every peer socket. Each read is parsed before the next can happen (one
 * thread), so all sockets can share it and a read allocates nothing; whatever must outlive the read
 * is copied by the wire (see BoundedWire.receive).
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024)

/** What reads are handed to: `transient` says the bytes are overwritten once `receive` returns. */
export interface Receiver {
  receive (chunk: Uint8Array, transient: boolean): void
}

/**
 * The `onread` option for `net.connect`: reads go to `receiver()`, the socket's wire, which exists
 * from the 'connect' event on, before the first read (and the peer speaks only after our handshake).
 */
export function sharedReadOption (receiver: () => Receiver | undefined): OnReadOpts {
  return {
    buffer: SHARED_READ_BUFFER,
    callback: (bytes, buffer) => {
      receiver()?.receive(buffer.subarray(0, bytes), true)
      return true
    }
  }
}

type ReadSlots = { buffer: symbol, callback: symbol, generator: symbol }
let slots: ReadSlots | null | undefined

function readSlots (socket: Socket): ReadSlots | null {
  if (slots !== undefined) return slots
  const symbols = Object.getOwnPropertySymbols(socket)
  const find = (name: string): symbol | undefined => symbols.find((symbol) => symbol.description === name)
  const buffer = find('kBuffer')
  const callback = find('kBufferCb')
  const generator = find('kBufferGen')
  slots = buffer && callback && generator ? { buffer, callback, generator } : null
  return slots
}

/**
 * Puts an accepted socket (from a server made with `pauseOnConnect`) on the shared read buffer,
 * which `onread` does only for sockets we open. Node has no public way to do it for accepted ones,
 * so this sets the fields `onread` sets, found by their symbols' names, and hands the handle the
 * buffer as `onread` does. Returns false, changing nothing, on a Node without them: the caller then
 * reads the ordinary way.
 */
export function readIntoSharedBuffer (socket: Socket, receiver: Receiver): boolean {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } })._handle
  const fields = readSlots(socket)
  if (!fields || typeof handle?.useUserBuffer !== 'function') return false
  const target = socket as unknown as Record<symbol, unknown>
  if (target[fields.buffer] !== null || target[fields.generator] !== null) return false
  target[fields.buffer] = SHARED_READ_BUFFER
  target[fields.callback] = (bytes: number, buffer: Buffer): boolean => {
    receiver.receive(buffer.subarray(0, bytes), true)
    return true
  }
  handle.useUserBuffer(SHARED_READ_BUFFER)
  return true
}
