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

/**
 * Checks a path before `seed` walks and hashes it: a regular file, or a folder of them, on a real
 * filesystem, within the limits. The walk is the one create-torrent makes (hidden and junk files
 * left out, links followed), made first, with a bound, so that a mistaken path (`/`, `/dev/zero`, a
 * folder with a FIFO in it, a link loop) is refused with a clear error instead of walking for ever.
 * `signal` stops it (the user who asked has gone).
 */
export async function checkSeedPath (input: string, limits: SeedLimits, signal?: AbortSignal): Promise<{ files: number, bytes: number }> {
  const path = resolve(input)
  const link = await lstat(path).catch(() => refuse(path, 'no such file or folder'))
  const real = await realpath(path)
  if (parse(real).root === real) refuse(path, 'that is the root of the filesystem; seed a folder of your own')
  const top = `/${real.split('/')[1] ?? ''}`
  if (SYSTEM_ROOTS.has(top)) refuse(path, `${top} holds the system's files, not data`)
  const kind = PSEUDO_FILESYSTEMS.get(Number((await statfs(real)).type))
  if (kind) refuse(path, `it is on ${kind}, a pseudo-filesystem`)
  const info = link.isSymbolicLink() ? await stat(path) : link
  let files = 0
  let bytes = 0
  const count = (size: number): void => {
    files++
    bytes += size
    if (files > limits.maxFiles) refuse(path, `more than ${limits.maxFiles} files (setting seedMaxFiles)`)
    if (bytes > limits.maxBytes) refuse(path, `more than ${limits.maxBytes} bytes (setting seedMaxBytes)`)
  }
  if (info.isFile()) {
    count(info.size)
    return { files, bytes }
  }
  if (!info.isDirectory()) refuse(path, 'it is not a regular file or a folder (a device, a FIFO or a socket)')
  // Depth first, one folder at a time: memory stays bounded by the depth, not by the tree.
  const visited = new Set<string>()
  const stack = [path]
  while (stack.length > 0) {
    signal?.throwIfAborted()
    const folder = stack.pop()!
    const here = await stat(folder)
    const id = `${here.dev}:${here.ino}`
    if (visited.has(id)) refuse(path, `${folder} links back to a folder above it`)
    visited.add(id)
    for (const entry of await readdir(folder)) {
      if (entry.startsWith('.') || !isNotJunk(entry)) continue
      const child = join(folder, entry)
      const found = await stat(child).catch(() => refuse(path, `${child} cannot be read (a broken link?)`))
      if (found.isDirectory()) stack.push(child)
      else if (found.isFile()) count(found.size)
      else refuse(path, `${child} is not a regular file (a device, a FIFO or a socket)`)
    }
  }
  if (files === 0) refuse(path, `${basename(path)} holds no files to seed`)
  return { files, bytes }
}
