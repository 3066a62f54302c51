import { createHash } from 'node:crypto'
import { constants, createReadStream } from 'node:fs'
import { copyFile, mkdir, rename, rm, rmdir, stat } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import type { Logger } from 'winston'
import type { TorrentMeta } from '../engine/metainfo.js'
import { UsageError, errorMessage } from '../util/errors.js'

/** The torrent's own files under a folder: pad files are never on disk. */
function ownPaths (meta: TorrentMeta, folder: string): string[] {
  return meta.files.filter((file) => !file.pad).map((file) => join(folder, ...file.path.split('/')))
}

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return false
    throw err
  })
}

/** Refuses a move that would put a file of the torrent over one already in the new folder. */
export async function checkDestination (meta: TorrentMeta, to: string): Promise<void> {
  for (const path of ownPaths(meta, to)) {
    if (await exists(path)) throw new UsageError(`${path} already exists: move the torrent elsewhere, or point it there without moving its data`)
  }
}

async function sha256Of (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/**
 * One file to its new place: a rename on one filesystem; across filesystems a copy (never over a
 * file there), compared with the original, and only then the original deleted. At any moment the
 * data is whole in one place or the other.
 */
async function moveFile (from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true })
  try {
    await rename(from, to)
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err
  }
  try {
    await copyFile(from, to, constants.COPYFILE_EXCL)
    if (await sha256Of(from) !== await sha256Of(to)) throw new Error(`the copy of ${from} does not match it`)
  } catch (err) {
    await rm(to, { force: true })
    throw err
  }
  await rm(from)
}

/** The folders on the torrent's paths under `root` that are empty once its files left (deepest first; never `root`). */
async function removeEmptyFolders (paths: readonly string[], root: string): Promise<void> {
  const folders = new Set<string>()
  for (const path of paths) for (let folder = dirname(path); folder !== root && folder.startsWith(`${root}${sep}`); folder = dirname(folder)) folders.add(folder)
  for (const folder of [...folders].sort((a, b) => b.length - a.length)) await rmdir(folder).catch(() => {})
}

/**
 * Moves a stopped torrent's files from one folder to another (those not on disk are skipped).
 * When one cannot be moved, those moved already go back, and the error says which failed.
 */
export async function moveTorrentFiles (meta: TorrentMeta, fromFolder: string, toFolder: string, log: Logger): Promise<void> {
  const from = ownPaths(meta, resolve(fromFolder))
  const to = ownPaths(meta, resolve(toFolder))
  const moved: number[] = []
  try {
    for (const [index, path] of from.entries()) {
      if (!await exists(path)) continue
      await moveFile(path, to[index]!)
      moved.push(index)
    }
  } catch (err) {
    for (const index of moved.reverse()) {
      await moveFile(to[index]!, from[index]!).catch((back: unknown) => log.error('cannot move a file back', { from: to[index], to: from[index], error: errorMessage(back) }))
    }
    throw new UsageError(`cannot move the files to ${toFolder}: ${errorMessage(err)} (they stay in ${fromFolder})`)
  }
  await removeEmptyFolders(from, resolve(fromFolder))
}
