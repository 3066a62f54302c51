import { lstat, readdir, realpath, stat, statfs } from 'node:fs/promises'
import { basename, join, parse, resolve } from 'node:path'
import { isNotJunk } from 'junk'
import { InvalidTorrentError } from '../util/errors.js'

/** What `seed` will consider at most: more files or bytes than this is refused before any hashing. */
export interface SeedLimits {
  readonly maxFiles: number
  readonly maxBytes: number
}

/** Filesystems whose files are not data (their "files" are the kernel's, or endless). */
const PSEUDO_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'], [0x62656572, 'sysfs'], [0x1373, 'devtmpfs'], [0x1cd1, 'devpts'], [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'], [0x64626720, 'debugfs'], [0x74726163, 'tracefs'], [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'], [0x42494e4d, 'binfmt_misc'], [0x6e736673, 'nsfs'], [0x50495045, 'pipefs'], [0x534f434b, 'sockfs']
])

/** Top-level folders that are the system's, not anybody's data. */
const SYSTEM_ROOTS = new Set(['/proc', '/sys', '/dev', '/run', '/boot'])

function refuse (path: string, why: string): never {
  throw new InvalidTorrentError(`cannot seed ${path}: ${why}`)
}

/** A file to put in a new torrent. */
export interface SeedFile {
  /** Where it is on disk. */
  readonly source: string
  /** Its path inside the torrent's folder (empty for a torrent of a single file). */
  readonly components: readonly string[]
  readonly length: number
}

/** What `seed` found to put in a torrent, in the torrent's order. */
export interface SeedContent {
  /** The torrent's name: the file's or folder's own name. */
  readonly name: string
  /** A single file (the info dictionary has `length`, not `files`). */
  readonly single: boolean
  readonly files: readonly SeedFile[]
  readonly bytes: number
}

/** Byte order of the names' UTF-8 (strcmp's, as readdir sorts them), not JavaScript's UTF-16 order. */
function byName (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/**
 * Walks a path before `seed` hashes it: a regular file, or a folder of them, on a real filesystem,
 * within the limits, so that a mistaken path (`/`, `/dev/zero`, a folder with a FIFO in it, a link
 * loop) is refused with a clear error instead of walking for ever. The files come in the order
 * create-torrent (webtorrent) gives them, so a folder's info hash stays what it was: hidden and
 * junk files left out, links followed, depth first, each folder's entries by name (its files and
 * subfolders mixed, as the names sort). mktorrent sorts whole paths instead: the two differ only
 * where a name holds a character that sorts before '/' after a common prefix (`a-b/x` against
 * `a/y`). `signal` stops it (the user who asked has gone).
 */
export async function walkSeedPath (input: string, limits: SeedLimits, signal?: AbortSignal): Promise<SeedContent> {
  const path = resolve(input)
  const link = await lstat(path).catch(() => refuse(path, 'no such file or folder'))
  const real = await realpath(path)
  if (parse(real).root === real) refuse(path, 'that is the root of the filesystem; seed a folder of your own')
  const top = `/${real.split('/')[1] ?? ''}`
  if (SYSTEM_ROOTS.has(top)) refuse(path, `${top} holds the system's files, not data`)
  const kind = PSEUDO_FILESYSTEMS.get(Number((await statfs(real)).type))
  if (kind) refuse(path, `it is on ${kind}, a pseudo-filesystem`)
  const info = link.isSymbolicLink() ? await stat(path) : link
  const name = basename(path)
  const files: SeedFile[] = []
  let counted = 0
  let bytes = 0
  const count = (size: number): void => {
    counted++
    bytes += size
    if (counted > limits.maxFiles) refuse(path, `more than ${limits.maxFiles} files (setting seedMaxFiles)`)
    if (bytes > limits.maxBytes) refuse(path, `more than ${limits.maxBytes} bytes (setting seedMaxBytes)`)
  }
  if (info.isFile()) {
    count(info.size)
    return { name, single: true, files: [{ source: path, components: [], length: info.size }], bytes }
  }
  if (!info.isDirectory()) refuse(path, 'it is not a regular file or a folder (a device, a FIFO or a socket)')
  // Depth first, one folder at a time: memory stays bounded by the depth, not by the tree. A
  // folder's entries go on the stack last first, so they come off it in order.
  type Entry = { readonly source: string, readonly components: readonly string[], readonly length?: number }
  const visited = new Set<string>()
  const stack: Entry[] = [{ source: path, components: [] }]
  while (stack.length > 0) {
    signal?.throwIfAborted()
    const entry = stack.pop()!
    if (entry.length !== undefined) {
      files.push({ source: entry.source, components: entry.components, length: entry.length })
      continue
    }
    const folder = entry.source
    const here = await stat(folder)
    const id = `${here.dev}:${here.ino}`
    if (visited.has(id)) refuse(path, `${folder} links back to a folder above it`)
    visited.add(id)
    const children: Entry[] = []
    for (const child of (await readdir(folder)).sort(byName)) {
      if (child.startsWith('.') || !isNotJunk(child)) continue
      const source = join(folder, child)
      const components = [...entry.components, child]
      const found = await stat(source).catch(() => refuse(path, `${source} cannot be read (a broken link?)`))
      if (found.isDirectory()) children.push({ source, components })
      else if (found.isFile()) {
        count(found.size)
        children.push({ source, components, length: found.size })
      } else refuse(path, `${source} is not a regular file (a device, a FIFO or a socket)`)
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!)
  }
  if (files.length === 0) refuse(path, `${name} holds no files to seed`)
  return { name, single: false, files, bytes }
}
