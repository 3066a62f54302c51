import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'

const CHUNK_BYTES = 8 * 1024 * 1024

/**
 * Writes and deletes a scratch file of `bytes` in `dir`, so the next writer of that many bytes gets
 * page-cache pages the hypervisor has backed recently.
 *
 * On this kind of virtual machine, writing fresh data into page-cache pages that have sat free for
 * ~20 s costs about 4.4 CPU-s per GiB (the host faults each page back in); pages freed moments ago
 * cost 0.43. Every leecher writes the whole torrent, so without this step a run's time depended on
 * how long ago the previous run freed its pages, not on the client. Both clients get the same
 * warm-up immediately before their transfer; `--cold` skips it.
 */
export async function warmPageCache (dir: string, bytes: number): Promise<void> {
  const path = join(dir, '.page-cache-warmup')
  const chunk = Buffer.alloc(CHUNK_BYTES, 1)
  const handle = await open(path, 'w')
  try {
    for (let written = 0; written < bytes; written += CHUNK_BYTES) {
      await handle.write(chunk, 0, Math.min(CHUNK_BYTES, bytes - written), written)
    }
  } finally {
    await handle.close()
    await rm(path, { force: true })
  }
}
