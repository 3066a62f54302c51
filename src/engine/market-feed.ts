import type { PieceAvailability } from './availability.js'
import { BLOCK_SIZE, type PieceProgress } from './blocks.js'
import type { TorrentContent } from './content.js'
import type { BlockCharge, MarketPort, TorrentObservation } from './market-port.js'
import type { Peer } from './peer.js'

/** How far ahead the market's limits look at a paying peer's blocks (its guard runs once a second). */
const CHARGE_HORIZON_SECONDS = 2

type ChargeOf = (peer: Peer) => BlockCharge | undefined
type ContentView = { readonly content: TorrentContent, readonly availability: PieceAvailability, readonly requests: { pieces (): Iterable<PieceProgress> } }

/** Once a second while downloading: what auto-bid and the market's limits need to see. */
export function feedMarket (market: MarketPort, peers: Iterable<Peer>, data: ContentView | undefined, bytesLeft: number, downloadRate: number): void {
  const connected = [...peers]
  const chargeFor = (peer: Peer): BlockCharge | undefined => market.chargeFor(peer.address)
  if (market.autoBidding) market.autoBid(observe(connected, chargeFor, data, bytesLeft, downloadRate))
  market.guard(chargedInFlight(data ? data.requests.pieces() : [], connected, chargeFor))
}

/** What auto-bid needs to see: the rates by source, and how much of what is missing only seeds have. */
export function observe (
  peers: Iterable<Peer>,
  chargeFor: ChargeOf,
  data: { readonly content: TorrentContent, readonly availability: PieceAvailability } | undefined,
  bytesLeft: number,
  downloadRate: number
): TorrentObservation {
  let paidRate = 0
  let seedRate = 0
  let seeds = 0
  for (const peer of peers) {
    if (chargeFor(peer)) paidRate += peer.downloadRate
    if (peer.seed) {
      seedRate += peer.downloadRate
      seeds++
    }
  }
  let missing = 0
  let onlySeeds = 0
  const pieceCount = data?.content.meta.pieceCount ?? 0
  for (let i = 0; i < pieceCount; i++) {
    // Pieces of skipped files are never bought: they do not count.
    if (data!.content.has(i) || !data!.content.wants(i)) continue
    missing++
    // Availability counts the peers that are not seeds.
    if (seeds > 0 && data!.availability.counts[i] === 0) onlySeeds++
  }
  return { bytesLeft, downloadRate, paidRate, seedRate, onlyFromSeeds: missing > 0 ? onlySeeds / missing : 0 }
}

/**
 * What the blocks in flight will cost once their pieces verify, as Σ bytes × rate per payee:
 * blocks received but not yet verified, blocks asked of peers that charge for them, and the next
 * seconds of blocks at each such peer's rate (more may be asked before the market looks again).
 */
export function chargedInFlight (pieces: Iterable<PieceProgress>, peers: Iterable<Peer>, chargeFor: ChargeOf): Map<string, bigint> {
  const byPayee = new Map<string, bigint>()
  const add = (charge: BlockCharge, bytes: number): void => { byPayee.set(charge.payee, (byPayee.get(charge.payee) ?? 0n) + BigInt(bytes) * charge.rate) }
  for (const piece of pieces) {
    for (const charge of piece.charges) if (charge) add(charge, BLOCK_SIZE)
  }
  for (const peer of peers) {
    const charge = chargeFor(peer)
    if (charge) add(charge, peer.outstanding.size * BLOCK_SIZE + Math.ceil(peer.downloadRate * CHARGE_HORIZON_SECONDS))
  }
  return byPayee
}
