import type { PeerInfo } from '../../engine/torrent.js'
import type { TorrentView } from '../api-types.js'
import { torrentLimitFields } from './limits.js'

/**
 * Transmission's names for a torrent's figures (docs/rpc-spec.md, torrent-get), made from ours.
 * Pure: the RPC asks for the fields it wants and gets exactly those.
 */

/** Transmission's status codes: 0 stopped, 2 checking, 4 downloading, 6 seeding (1, 3, 5 are its queues). */
export function statusCode (view: TorrentView): number {
  switch (view.state) {
    case 'paused': return 0
    case 'checking': return 2
    case 'metadata':
    case 'downloading': return 4
    case 'seeding': return 6
    case 'error': return 0
  }
}

/** Seconds to completion: -1 when it cannot be told (Transmission's TR_ETA_NOT_AVAIL), -2 never (TR_ETA_UNKNOWN). */
function etaOf (view: TorrentView, left: number): number {
  if (view.state === 'seeding' || left === 0) return 0
  if (view.downloadRate <= 0) return view.state === 'downloading' ? -2 : -1
  return Math.round(left / view.downloadRate)
}

function haveValid (view: TorrentView): number {
  if (view.length === null || view.pieceLength === null || view.pieceCount === null) return 0
  if (view.verifiedPieces === view.pieceCount) return view.length
  return Math.min(view.length, view.verifiedPieces * view.pieceLength)
}

/** Our peers as Transmission lists them: its flags are the usual µTorrent letters. */
function peerOf (peer: PeerInfo): Record<string, unknown> {
  const separator = peer.address.lastIndexOf(':')
  const flags = [
    !peer.peerChoking && peer.amInterested ? 'D' : peer.amInterested ? 'd' : '',
    !peer.amChoking && peer.peerInterested ? 'U' : peer.peerInterested ? 'u' : '',
    peer.encryption !== 'none' ? 'E' : '',
    peer.transport === 'utp' ? 'T' : '',
    peer.direction === 'incoming' ? 'I' : ''
  ].join('')
  return {
    address: peer.address.slice(0, separator).replace(/^\[|\]$/g, ''),
    port: Number(peer.address.slice(separator + 1)),
    clientName: peer.client,
    progress: peer.progress,
    rateToClient: peer.downloadRate,
    rateToPeer: peer.uploadRate,
    flagStr: flags,
    isEncrypted: peer.encryption !== 'none',
    isUTP: peer.transport === 'utp',
    isIncoming: peer.direction === 'incoming',
    isDownloadingFrom: !peer.peerChoking && peer.amInterested,
    isUploadingTo: !peer.amChoking && peer.peerInterested,
    clientIsChoked: peer.amChoking,
    clientIsInterested: peer.amInterested,
    peerIsChoked: peer.peerChoking,
    peerIsInterested: peer.peerInterested,
    // The market rides along: what this peer bids and how it ranks, what we owe it.
    'bidtorrent-market': peer.market
  }
}

/** Transmission's file priorities: -1 low, 0 normal, 1 high (a skipped file is `wanted: false`, at normal). */
const PRIORITY_CODES = { skip: 0, low: -1, normal: 0, high: 1 } as const

export interface FieldContext {
  readonly id: number
  readonly peers: readonly PeerInfo[]
  readonly addedAt: number
  /** What peers paid for it, in base units (the stored vouchers). */
  readonly earned: string
}

/** Every field this RPC answers, by Transmission's name. */
export function torrentFields (view: TorrentView, context: FieldContext): Record<string, unknown> {
  const length = view.length ?? 0
  const have = haveValid(view)
  const wanted = view.wantedLength ?? length
  const left = Math.max(0, wanted - view.wantedVerified)
  const sending = context.peers.filter((peer) => !peer.peerChoking && peer.amInterested).length
  const getting = context.peers.filter((peer) => !peer.amChoking && peer.peerInterested).length
  const market = view.market
  return {
    id: context.id,
    hashString: view.infoHash,
    name: view.name,
    status: statusCode(view),
    error: view.state === 'error' ? 3 : 0,
    errorString: view.error ?? '',
    totalSize: length,
    sizeWhenDone: wanted,
    leftUntilDone: left,
    haveValid: have,
    haveUnchecked: 0,
    desiredAvailable: left,
    percentDone: view.progress,
    metadataPercentComplete: view.pieceCount === null ? 0 : 1,
    recheckProgress: view.state === 'checking' && view.pieceCount ? view.checkedPieces / view.pieceCount : 0,
    isStalled: view.state === 'downloading' && view.downloadRate === 0,
    isPrivate: false,
    rateDownload: view.downloadRate,
    rateUpload: view.uploadRate,
    downloadedEver: view.downloaded,
    uploadedEver: view.uploaded,
    corruptEver: view.wasted,
    uploadRatio: view.downloaded > 0 ? view.uploaded / view.downloaded : length > 0 ? view.uploaded / length : -1,
    eta: etaOf(view, left),
    peersConnected: view.peers,
    peersSendingToUs: sending,
    peersGettingFromUs: getting,
    webseedsSendingToUs: view.webSeeds.filter((seed) => seed.state === 'fetching').length,
    downloadDir: view.directory,
    addedDate: Math.floor(context.addedAt / 1000),
    startDate: Math.floor(view.startedAt / 1000),
    doneDate: view.completedAt === null ? 0 : Math.floor(view.completedAt / 1000),
    activityDate: Math.floor(Date.now() / 1000),
    pieceCount: view.pieceCount ?? 0,
    pieceSize: view.pieceLength ?? 0,
    magnetLink: view.magnet,
    queuePosition: context.id,
    uploadLimit: Math.round(view.uploadLimit / 1000),
    uploadLimited: view.uploadLimit > 0,
    downloadLimit: Math.round(view.downloadLimit / 1000),
    downloadLimited: view.downloadLimit > 0,
    honorsSessionLimits: true,
    bandwidthPriority: 0,
    ...torrentLimitFields(view),
    files: view.files.map((file) => ({ name: file.path, length: file.length, bytesCompleted: file.verified })),
    fileStats: view.files.map((file) => ({ bytesCompleted: file.verified, wanted: file.priority !== 'skip', priority: PRIORITY_CODES[file.priority] })),
    priorities: view.files.map((file) => PRIORITY_CODES[file.priority]),
    wanted: view.files.map((file) => (file.priority === 'skip' ? 0 : 1)),
    peers: context.peers.map(peerOf),
    trackers: view.trackers.map((announce, id) => ({ id, announce, scrape: '', tier: id })),
    trackerStats: [],
    'bidtorrent-bid': market?.bid ?? '0',
    'bidtorrent-budget': market?.budget ?? '0',
    'bidtorrent-floor': market?.floor ?? '0',
    'bidtorrent-spent': market?.paid ?? '0',
    'bidtorrent-earned': context.earned,
    'bidtorrent-signed-not-accepted': market?.signedNotAccepted ?? '0',
    'bidtorrent-notices': market?.notices ?? []
  }
}

/** The fields asked for (names this RPC does not know are left out, as Transmission does). */
export function pickFields (all: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {}
  for (const field of fields) if (field in all) picked[field] = all[field]
  return picked
}
