import { basename, matchesGlob } from 'node:path'
import { UsageError } from '../util/errors.js'
import type { TorrentMeta } from './metainfo.js'

/** How much a file is wanted: `skip` is not downloaded; the others order the piece picker. */
export const FILE_PRIORITIES = ['skip', 'low', 'normal', 'high'] as const
export type FilePriority = typeof FILE_PRIORITIES[number]

/**
 * A change of which files are wanted. Selectors are file numbers as `info` shows them (from 0,
 * pad files not counted) or globs: one without '/' matches a file's name, one with '/' its path.
 * `only` skips every file it does not select; then `skip`, then each `priority` level, apply.
 */
export interface FileSelectionSpec {
  readonly only?: readonly string[]
  readonly skip?: readonly string[]
  readonly priority?: Partial<Record<Exclude<FilePriority, 'skip'>, readonly string[]>>
}

/** The user's files: every file of the torrent but its pad files, numbered from 0 as `info` shows them. */
export function userFileIndexes (meta: Pick<TorrentMeta, 'files'>): number[] {
  const indexes: number[] = []
  meta.files.forEach((file, index) => { if (!file.pad) indexes.push(index) })
  return indexes
}

/** The files (user numbers) one selector names; an index out of range or a glob that matches nothing is an error. */
function selected (paths: readonly string[], selector: string, flag: string): number[] {
  const trimmed = selector.trim()
  if (/^\d+$/.test(trimmed)) {
    const index = Number(trimmed)
    if (index >= paths.length) throw new UsageError(`${flag} ${selector}: there is no file ${index} (the torrent has files 0 to ${paths.length - 1}; see \`bidtorrent files\`)`)
    return [index]
  }
  if (/^\d+-\d+$/.test(trimmed)) {
    const [from, to] = trimmed.split('-').map(Number) as [number, number]
    if (from > to || to >= paths.length) throw new UsageError(`${flag} ${selector}: not a range of files within 0 to ${paths.length - 1}`)
    return Array.from({ length: to - from + 1 }, (_, i) => from + i)
  }
  if (trimmed === '') throw new UsageError(`${flag}: an empty file selector (give file numbers like 0,2 or a glob like '*.mkv')`)
  const matches: number[] = []
  paths.forEach((path, index) => {
    const inside = path.slice(path.indexOf('/') + 1)
    const hit = trimmed.includes('/') ? matchesGlob(path, trimmed) || matchesGlob(inside, trimmed) : matchesGlob(basename(path), trimmed)
    if (hit) matches.push(index)
  })
  if (matches.length === 0) throw new UsageError(`${flag} ${selector}: no file of the torrent matches it (see \`bidtorrent files\`)`)
  return matches
}

/** The priorities of the user's files after `spec` applies to `current` (all normal when undefined). */
export function applySelection (paths: readonly string[], current: readonly FilePriority[] | undefined, spec: FileSelectionSpec): FilePriority[] {
  const next: FilePriority[] = current ? [...current] : paths.map(() => 'normal')
  if (next.length !== paths.length) throw new UsageError(`the selection names ${next.length} files; the torrent has ${paths.length}`)
  const pick = (selectors: readonly string[] | undefined, flag: string): Set<number> =>
    new Set((selectors ?? []).flatMap((selector) => selected(paths, selector, flag)))
  if (spec.only && spec.only.length > 0) {
    const only = pick(spec.only, '--only')
    next.forEach((priority, index) => { next[index] = only.has(index) ? (priority === 'skip' ? 'normal' : priority) : 'skip' })
  }
  for (const index of pick(spec.skip, '--skip')) next[index] = 'skip'
  for (const level of ['low', 'normal', 'high'] as const) {
    for (const index of pick(spec.priority?.[level], `--priority ${level}`)) next[index] = level
  }
  if (next.every((priority) => priority === 'skip')) throw new UsageError('that selection skips every file: nothing would be downloaded')
  return next
}

/** Rank of a priority in the picker: 0 is not wanted. */
export function priorityRank (priority: FilePriority): number {
  return FILE_PRIORITIES.indexOf(priority)
}

/**
 * Which pieces are wanted and how much: a piece's rank is the highest of the files it holds bytes
 * of (pad files hold none that count). Files are numbered as in meta.files here.
 */
export class FileSelection {
  /** Per piece: 0 not wanted, else the rank of its most wanted file. */
  readonly pieceRank: Uint8Array
  /** Per file of meta.files (pad files are never wanted). */
  readonly fileRank: Uint8Array
  readonly wantedBytes: number
  readonly allWanted: boolean

  constructor (meta: TorrentMeta, userPriorities: readonly FilePriority[] | undefined) {
    const user = userFileIndexes(meta)
    this.fileRank = new Uint8Array(meta.files.length)
    user.forEach((fileIndex, i) => { this.fileRank[fileIndex] = priorityRank(userPriorities?.[i] ?? 'normal') })
    this.pieceRank = new Uint8Array(meta.pieceCount)
    let wanted = 0
    let all = true
    meta.files.forEach((file, index) => {
      const rank = this.fileRank[index]!
      if (file.pad || file.length === 0) return
      if (rank === 0) { all = false; return }
      wanted += file.length
      const last = Math.floor((file.offset + file.length - 1) / meta.pieceLength)
      for (let piece = Math.floor(file.offset / meta.pieceLength); piece <= last; piece++) {
        if (this.pieceRank[piece]! < rank) this.pieceRank[piece] = rank
      }
    })
    this.wantedBytes = wanted
    this.allWanted = all
  }

  wantsPiece (index: number): boolean {
    return this.pieceRank[index]! > 0
  }

  wantsFile (fileIndex: number): boolean {
    return this.fileRank[fileIndex]! > 0
  }
}

/** A user's file as status shows it: its number, priority and the bytes of it that verified pieces hold. */
export interface FileProgress {
  readonly index: number
  readonly path: string
  readonly length: number
  readonly priority: FilePriority
  readonly verified: number
}

export function fileProgress (meta: TorrentMeta, priorities: readonly FilePriority[] | undefined, has: (piece: number) => boolean): FileProgress[] {
  const { pieceLength } = meta
  return userFileIndexes(meta).map((fileIndex, index) => {
    const file = meta.files[fileIndex]!
    const end = file.offset + file.length
    let verified = 0
    for (let piece = Math.floor(file.offset / pieceLength); file.length > 0 && piece * pieceLength < end; piece++) {
      if (has(piece)) verified += Math.min(end, (piece + 1) * pieceLength) - Math.max(file.offset, piece * pieceLength)
    }
    return { index, path: file.path, length: file.length, priority: priorities?.[index] ?? 'normal', verified }
  })
}
