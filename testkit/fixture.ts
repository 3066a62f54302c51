import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'

export interface FixtureFile {
  readonly path: string
  readonly size: number
}

/** Writes files of random bytes (1 MiB at a time, so a large file never sits in memory). */
export async function writeFixture (root: string, files: readonly FixtureFile[]): Promise<void> {
  for (const file of files) {
    const path = join(root, file.path)
    await mkdir(dirname(path), { recursive: true })
    const handle = await open(path, 'w')
    try {
      for (let written = 0; written < file.size;) {
        const chunk = randomBytes(Math.min(1024 * 1024, file.size - written))
        await handle.write(chunk)
        written += chunk.length
      }
    } finally {
      await handle.close()
    }
  }
}

export async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** True when every fixture file exists under `copyRoot` with the same bytes as under `originalRoot`. */
export async function sameFiles (originalRoot: string, copyRoot: string, files: readonly FixtureFile[]): Promise<string[]> {
  const different: string[] = []
  for (const file of files) {
    const [a, b] = await Promise.all([sha256File(join(originalRoot, file.path)), sha256File(join(copyRoot, file.path)).catch(() => 'missing')])
    if (a !== b) different.push(file.path)
  }
  return different
}
