import { createHash } from 'node:crypto'
import type { BoundedWire } from '../wire.js'
import { HASHES, HASH_REJECT, encodeHashRequest, type HashRequest } from './hash-messages.js'
import { HASH_BYTES, MERKLE_BLOCK, nextPowerOfTwo } from './merkle.js'

/** A file whose piece layer a magnet's metadata does not carry. */
export interface NeededLayer {
  readonly piecesRoot: Buffer
  readonly pieceCount: number
}

/** Pieces asked for in one request, as libtorrent asks for them. */
const CHUNK = 512
const ANSWER_MS = 10_000
const GIVE_UP_MS = 120_000

function sha256 (left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(left).update(right).digest()
}

/** The requests that fetch a file's piece layer: chunks of 512 pieces, each with the uncles that prove it up to the pieces root. */
export function layerRequests (needed: NeededLayer, pieceLength: number): HashRequest[] {
  const base = Math.log2(pieceLength / MERKLE_BLOCK)
  const layers = Math.log2(nextPowerOfTwo(needed.pieceCount)) + base
  const requests: HashRequest[] = []
  for (let index = 0; index < needed.pieceCount; index += CHUNK) {
    const count = Math.min(CHUNK, nextPowerOfTwo(needed.pieceCount - index))
    requests.push({ piecesRoot: needed.piecesRoot, base, index, count, proofLayers: layers - base - 1 })
  }
  return requests
}

/**
 * Checks a hashes message against the pieces root: the subtree over the `count` hashes, then up
 * through the uncles (lowest first). Returns the hashes when they are proven, else undefined.
 */
export function provenHashes (request: HashRequest, payload: Buffer): Buffer | undefined {
  const { count, index } = request
  if (payload.length % HASH_BYTES !== 0 || payload.length < count * HASH_BYTES) return undefined
  let level: Buffer[] = []
  for (let i = 0; i < count; i++) level.push(payload.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES))
  while (level.length > 1) {
    const above: Buffer[] = []
    for (let i = 0; i < level.length; i += 2) above.push(sha256(level[i]!, level[i + 1]!))
    level = above
  }
  let node = level[0]!
  let position = index / count
  for (let at = count * HASH_BYTES; at < payload.length; at += HASH_BYTES, position >>= 1) {
    const uncle = payload.subarray(at, at + HASH_BYTES)
    node = position % 2 === 0 ? sha256(node, uncle) : sha256(uncle, node)
  }
  return node.equals(request.piecesRoot) && position === 0 ? payload.subarray(0, count * HASH_BYTES) : undefined
}

/**
 * Sends one request to one peer and waits for its answer, as `prove` accepts it (its hashes;
 * undefined: rejected, unproven, or no answer in time). By default the hashes are proven up to
 * the pieces root.
 */
export function askHashes (wire: BoundedWire, request: HashRequest, prove = (payload: Buffer) => provenHashes(request, payload)): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const done = (result: Buffer | undefined): void => {
      clearTimeout(timer)
      wire.off('unknownmessage', onMessage)
      wire.off('close', onClose)
      resolve(result)
    }
    const onMessage = (message: Uint8Array): void => {
      if ((message[0] !== HASHES && message[0] !== HASH_REJECT) || message.length < 49) return
      const view = Buffer.from(message)
      if (!view.subarray(1, 33).equals(request.piecesRoot) || view.readUInt32BE(33) !== request.base || view.readUInt32BE(37) !== request.index) return
      done(message[0] === HASHES ? prove(view.subarray(49)) : undefined)
    }
    const onClose = (): void => done(undefined)
    const timer = setTimeout(() => done(undefined), ANSWER_MS)
    wire.on('unknownmessage', onMessage)
    wire.once('close', onClose)
    wire.sendMessage(encodeHashRequest(request))
  })
}

/**
 * Fetches the piece layers a v2 magnet's metadata lacks from the connected peers (BEP 52 hash
 * requests), each proven against its file's pieces root; peers are tried in turn until one
 * answers. Keys of the result are pieces roots as latin1 strings (as bdecode keys them).
 */
export async function fetchPieceLayers (wires: () => BoundedWire[], needed: readonly NeededLayer[], pieceLength: number): Promise<Map<string, Buffer>> {
  const deadline = Date.now() + GIVE_UP_MS
  const layers = new Map<string, Buffer>()
  for (const file of needed) {
    const parts: Buffer[] = []
    for (const request of layerRequests(file, pieceLength)) {
      let hashes: Buffer | undefined
      for (let turn = 0; !hashes; turn++) {
        if (Date.now() > deadline) throw new Error('no peer sent the piece layers (BEP 52 hash requests)')
        const candidates = wires()
        const wire = candidates[turn % Math.max(1, candidates.length)]
        if (wire) hashes = await askHashes(wire, request)
        else await new Promise((resolve) => setTimeout(resolve, 1000))
      }
      parts.push(hashes)
    }
    layers.set(file.piecesRoot.toString('latin1'), Buffer.concat(parts).subarray(0, file.pieceCount * HASH_BYTES))
  }
  return layers
}
