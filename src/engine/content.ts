import BitField from 'bitfield'
import type { Logger } from 'winston'
import { BufferPool, type PieceHasher } from './hasher.js'
import { FileSelection, type FilePriority } from './file-selection.js'
import type { TorrentMeta } from './metainfo.js'
import { checkPiece } from './piece-check.js'
import { PadSpace } from './pad-space.js'
import { PartsFile } from './parts-file.js'
import type { EngineSettings } from './settings.js'
import { PieceStorage } from './storage.js'

/** Pieces hashed at once when checking data already on disk. */
const CHECK_CONCURRENCY = 4

export interface ContentInit {
  readonly meta: TorrentMeta
  readonly directory: string
  readonly settings: EngineSettings
  readonly hasher: PieceHasher
  readonly log: Logger
  readonly infoHash: string
  /** The user's files' priorities (pad files not counted); all normal when undefined. */
  readonly priorities: readonly FilePriority[] | undefined
  /** Where the bytes of unwanted files that wanted pieces hold are kept, outside the user's folder. */
  readonly partsPath: string
  /** The torrent is being destroyed: a check in progress stops. */
  readonly stopped: () => boolean
}

/**
 * A torrent's data once its metadata is known: the files on disk, which pieces of them are
 * verified, and the buffers pieces are downloaded into. It alone marks a piece as had.
 */
export class TorrentContent {
  readonly meta: TorrentMeta
  readonly storage: PieceStorage
  readonly pads: PadSpace
  /** Buffers of pieces being downloaded (and checked): bounds the memory in flight. */
  readonly pool: BufferPool
  private have: BitField
  private count = 0
  private selection: FileSelection
  /** The user's files' priorities, as set. */
  priorities: readonly FilePriority[] | undefined
  private wantedPieces = 0
  private wantedHave = 0
  /** Pieces hashed by the last check of existing data. */
  checkedPieces = 0
  /** Pieces already verified on disk when the torrent started (from resume data, or found by a check). */
  piecesFromResume = 0

  constructor (private readonly init: ContentInit) {
    const { meta, settings } = init
    this.meta = meta
    this.have = new BitField(meta.pieceCount)
    this.storage = new PieceStorage(meta, init.directory, undefined, new PartsFile(init.partsPath))
    this.pads = new PadSpace(meta)
    this.priorities = init.priorities
    this.selection = new FileSelection(meta, init.priorities)
    this.countWanted()
    this.pool = new BufferPool(meta.pieceLength, Math.max(4, Math.floor(settings.maxInFlightBytes / meta.pieceLength)))
  }

  get haveCount (): number {
    return this.count
  }

  /** Every wanted piece is verified: the torrent seeds what it has. */
  get complete (): boolean {
    return this.wantedHave === this.wantedPieces
  }

  /** Every piece is verified (what `have all` may say to peers). */
  get hasAll (): boolean {
    return this.count === this.meta.pieceCount
  }

  /** The piece holds bytes of a wanted file. */
  wants (index: number): boolean {
    return this.selection.wantsPiece(index)
  }

  /** How much the picker wants the piece: 0 not at all, else higher first. */
  rank (index: number): number {
    return this.selection.pieceRank[index]!
  }

  get wantedBytes (): number {
    return this.selection.wantedBytes
  }

  /** Wanted pieces not yet verified. */
  get wantedMissing (): number {
    return this.wantedPieces - this.wantedHave
  }

  /**
   * New priorities for the user's files: a file set apart that is wanted now is made, and its bytes
   * from the parts file moved into it (pieces being written must have settled: see PieceStorage.place);
   * one no longer wanted that holds no data yet is set apart.
   */
  async select (priorities: readonly FilePriority[]): Promise<void> {
    this.selection = new FileSelection(this.meta, priorities)
    this.priorities = priorities
    this.countWanted()
    const wanted = this.meta.files.map((_, fileIndex) => fileIndex).filter((fileIndex) => this.selection.wantsFile(fileIndex))
    await this.storage.place(wanted, (piece) => this.have.get(piece))
    await this.storage.setApart((fileIndex) => this.selection.wantsFile(fileIndex))
  }

  private countWanted (): void {
    this.wantedPieces = 0
    this.wantedHave = 0
    for (let i = 0; i < this.meta.pieceCount; i++) {
      if (!this.selection.wantsPiece(i)) continue
      this.wantedPieces++
      if (this.have.get(i)) this.wantedHave++
    }
  }

  /** The bitfield as sent to peers (the live one: copy it to keep it). */
  get bitfield (): BitField {
    return this.have
  }

  has (index: number): boolean {
    return this.have.get(index)
  }

  /** A piece passed its hash check and is written. */
  markVerified (index: number): void {
    if (this.have.get(index)) return
    this.have.set(index, true)
    this.count++
    if (this.selection.wantsPiece(index)) this.wantedHave++
  }

  /** Bytes of wanted files still to verify (an estimate: it counts missing pieces as whole). */
  bytesLeft (): number {
    return Math.max(0, Math.min(this.selection.wantedBytes, this.wantedMissing * this.meta.pieceLength))
  }

  /**
   * Finds what is already verified: from resume data when its files are there (and checks on disk
   * the pieces in `recheck` that it lacks), else by hashing whatever is on disk; then allocates the
   * files for what is missing. Throws when the files cannot be read or made.
   */
  async prepare (resume: Uint8Array | undefined, recheck: Uint8Array | undefined): Promise<void> {
    await this.storage.setApart((fileIndex) => this.selection.wantsFile(fileIndex))
    const resumable = resume !== undefined && await this.storage.filesPresent()
    if (resumable) {
      this.load(resume)
      const again = recheck ? new BitField(Buffer.from(recheck)) : undefined
      if (again) await this.checkExisting((index) => again.get(index) && !this.have.get(index))
    } else if (!await this.storage.nothingPresent()) {
      await this.checkExisting()
    }
    // A piece of nothing but pad files is never downloaded: its zeros are hashed here.
    await this.checkExisting((index) => this.pads.padOnly.has(index) && !this.have.get(index))
    this.piecesFromResume = this.count
    if (this.init.stopped()) return
    if (!this.complete) await this.storage.allocate()
  }

  /**
   * Hashes every piece on disk again (the user's "verify"): what is had becomes what matches now,
   * so a piece damaged or deleted since is missing, and downloaded, again. Files are opened afresh
   * (one replaced on disk is read, not the old one); a missing or short one reads as zeros.
   */
  async recheck (): Promise<void> {
    await this.storage.reopen()
    this.have = new BitField(this.meta.pieceCount)
    this.count = 0
    this.countWanted()
    await this.checkExisting()
    if (!this.init.stopped() && !this.complete) await this.storage.allocate()
  }

  /**
   * The verified pieces now, not yet synced to disk: what survives the process being killed (the
   * kernel has the data), to be checked on disk at the next start. See durableBitfield.
   */
  verifiedBitfield (): Buffer {
    return Buffer.from(this.have.buffer)
  }

  /** The verified pieces that are durably on disk, for resume data (pieces are synced before they are named). */
  async durableBitfield (): Promise<Buffer> {
    const snapshot = Buffer.from(this.have.buffer)
    await this.storage.sync()
    return snapshot
  }

  private load (bits: Uint8Array): void {
    const stored = new BitField(Buffer.from(bits))
    for (let i = 0; i < this.meta.pieceCount; i++) if (stored.get(i)) this.markVerified(i)
  }

  /** Hashes what is already on disk (every piece, or those `wanted`), on the hash threads, a few pieces at a time. */
  private async checkExisting (wanted?: (index: number) => boolean): Promise<void> {
    const { meta, log, infoHash, hasher } = this.init
    const indices = [...Array(meta.pieceCount).keys()].filter((index) => wanted?.(index) ?? true)
    if (indices.length === 0) return
    log.info('checking existing data', { infoHash, pieces: indices.length })
    this.checkedPieces = 0
    let next = 0
    const before = this.count
    const worker = async (): Promise<void> => {
      const buffer = this.pool.acquire()
      if (!buffer) return
      try {
        while (next < indices.length && !this.init.stopped()) {
          const index = indices[next++]!
          const data = await this.storage.readPiece(index, buffer)
          if (await checkPiece(hasher, meta, index, data)) this.markVerified(index)
          this.checkedPieces++
        }
      } finally {
        this.pool.release(buffer)
      }
    }
    await Promise.all(Array.from({ length: CHECK_CONCURRENCY }, worker))
    log.info('check finished', { infoHash, verified: this.count - before, pieces: indices.length })
  }
}
