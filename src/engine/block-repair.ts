import type { Logger } from 'winston'
import { peerHas } from './availability.js'
import { BLOCK_SIZE, blockLength, sendersOf, type PieceProgress } from './blocks.js'
import type { ContentParts } from './content-parts.js'
import type { PeerDiscipline } from './discipline.js'
import type { TorrentEvents } from './events.js'
import type { PieceHasher } from './hasher.js'
import { pieceDataLength, type TorrentMeta } from './metainfo.js'
import type { Peer } from './peer.js'
import { blockLayerRequest, mismatchedBlocks, provenBlockHashes } from './v2/block-layer.js'
import type { HashRequest } from './v2/hash-messages.js'
import type { TransferStats } from './transfer-stats.js'
import { askHashes } from './v2/layer-fetch.js'
import { MERKLE_BLOCK } from './v2/merkle.js'

/** Peers asked at once for a failed piece's block hashes: the first proven answer wins. */
const PEERS_ASKED = 3
/** How long peers are looked for and asked before the whole piece is fetched again instead. */
const SEARCH_MS = 15_000

/** What is to be fetched again of a piece that failed its hash check, and whom to blame. */
export interface FailedPiece {
  /** The blocks found bad, or undefined: the whole piece goes again. */
  readonly badBlocks: readonly number[] | undefined
  readonly senders: readonly string[]
  /** Bytes received that were no good. */
  readonly wasted: number
}

/** The senders of the given blocks, each once. */
export function sendersOfBlocks (piece: PieceProgress, blocks: readonly number[]): string[] {
  const senders = new Set<string>()
  for (const block of blocks) {
    const sender = piece.senders[block]
    if (sender !== undefined) senders.add(sender)
  }
  return [...senders]
}

/** The verdict on a failed piece, once its bad blocks are known (undefined: not known, the whole piece is to blame). */
export function failedPiece (piece: PieceProgress, badBlocks: readonly number[] | undefined): FailedPiece {
  // Blocks nobody sent (pad blocks we filled in ourselves) cannot be refetched alone; nor can a verdict that names none.
  const refetch = badBlocks?.filter((block) => piece.senders[block] !== undefined)
  if (!refetch?.length) return { badBlocks: undefined, senders: sendersOf(piece), wasted: piece.length }
  return { badBlocks: refetch, senders: sendersOfBlocks(piece, refetch), wasted: refetch.reduce((sum, block) => sum + blockLength(piece, block), 0) }
}

export interface RepairInit {
  readonly meta: TorrentMeta
  readonly hasher: PieceHasher
  readonly peers: () => Iterable<Peer>
  /** Whether the piece is still to be repaired (the torrent alive, the piece not given up). */
  readonly wanted: (piece: PieceProgress) => boolean
}

/**
 * Finds which blocks of a v2 piece that failed its merkle check are bad, as libtorrent does: asks
 * peers that have the piece for its block hashes (a hash request for base layer 0), proves them
 * against the piece's hash, and compares each block's SHA-256, hashed on the hash threads. Undefined
 * when that cannot be done (a v1 piece, no peer that speaks BEP 52, no proven answer in time).
 */
export async function findBadBlocks (init: RepairInit, piece: PieceProgress): Promise<number[] | undefined> {
  const { meta } = init
  const v2 = meta.v2
  const request = v2 && blockLayerRequest(v2, meta.pieceLength, piece.index)
  if (!v2 || !request) return undefined
  const root = v2.pieceRoots.subarray(piece.index * 32, piece.index * 32 + 32)
  const expected = await askPeers(init, piece, (wires) => firstProven(wires, request, root))
  if (!expected) return undefined
  const dataLength = pieceDataLength(meta, piece.index)
  const [actual] = await init.hasher.digest(piece.buffer.subarray(0, dataLength), [{ algorithm: 'sha256', sliceLength: MERKLE_BLOCK }])
  if (!actual) return undefined
  return mismatchedBlocks(actual, expected, Math.ceil(dataLength / BLOCK_SIZE))
}

/**
 * Asks peers that speak BEP 52 and have the piece, a few at a time, each once. A peer able to
 * answer may not be there yet (just connecting, its bitfield not in): asking goes on until one
 * answers or SEARCH_MS have passed.
 */
async function askPeers (init: RepairInit, piece: PieceProgress, ask: (wires: Array<Peer['wire']>) => Promise<Buffer | undefined>): Promise<Buffer | undefined> {
  const asked = new Set<Peer['wire']>()
  for (const deadline = Date.now() + SEARCH_MS; Date.now() < deadline && init.wanted(piece);) {
    const wires = [...init.peers()].filter((peer) => speaksV2(init.meta, peer) && peerHas(peer, piece.index) && !asked.has(peer.wire)).slice(0, PEERS_ASKED).map((peer) => peer.wire)
    for (const wire of wires) asked.add(wire)
    const hashes = wires.length > 0 ? await ask(wires) : await new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000))
    if (hashes) return hashes
  }
  return undefined
}

/**
 * Whether the peer takes hash requests. In a v2-only swarm every peer does: libtorrent sets
 * BEP 52's handshake bit only in a hybrid's v1 swarm (and drops a v1 peer that sends hash messages).
 */
function speaksV2 (meta: TorrentMeta, peer: Peer): boolean {
  return meta.v2?.hybrid === false || peer.wire.peerSpeaksV2
}

function firstProven (wires: ReadonlyArray<Peer['wire']>, request: HashRequest, root: Uint8Array): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    let left = wires.length
    if (left === 0) return resolve(undefined)
    for (const wire of wires) {
      void askHashes(wire, request, (payload) => provenBlockHashes(request, payload, root)).then((hashes) => {
        if (hashes) resolve(hashes)
        else if (--left === 0) resolve(undefined)
      })
    }
  })
}

export interface FailureContext extends RepairInit {
  readonly data: ContentParts
  readonly discipline: PeerDiscipline
  readonly stats: TransferStats
  readonly events: TorrentEvents
  readonly log: Logger
  readonly infoHash: string
}

/**
 * A piece failed its hash check. A v2 piece's bad blocks are looked for first: found, only they
 * are fetched again and only their senders blamed; else (a v1 piece, a web seed's, no answer)
 * the whole piece is fetched again and all its senders blamed, each a strike towards a ban.
 */
export async function pieceFailed (context: FailureContext, piece: PieceProgress): Promise<void> {
  const { requests, webSeeds } = context.data
  const bad = requests.fromWebSeed(piece) ? undefined : await findBadBlocks(context, piece).catch(() => undefined)
  if (!context.wanted(piece)) return
  const failed = failedPiece(piece, bad)
  const badBlocks = failed.badBlocks ?? null
  context.stats.waste(failed.wasted)
  context.log.warn('piece failed its hash check', { infoHash: context.infoHash, piece: piece.index, senders: failed.senders, badBlocks })
  context.events.emit({ type: 'hash-failed', index: piece.index, senders: failed.senders, badBlocks })
  requests.failedFrom(piece, failed.senders)
  if (failed.badBlocks) requests.refetchBlocks(piece, failed.badBlocks)
  else requests.restart(piece)
  context.discipline.hashFailed(webSeeds.blame(failed.senders))
}
