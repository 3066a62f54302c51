import { mkdir, open, rm, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Where the bytes of files the user does not want go, when a piece they share with a wanted file
 * is downloaded (libtorrent's partfile does the same): one sparse file outside the user's folder,
 * each byte at its offset in the torrent, so only what was written takes space. It is made on the
 * first write; nothing reads as zeros.
 */
export class PartsFile {
  private handle: Promise<FileHandle | undefined> | undefined
  private dirty = false

  constructor (readonly path: string) {}

  async write (position: number, data: Uint8Array, offset: number, length: number): Promise<void> {
    const handle = (await this.opened(true))!
    for (let done = 0; done < length;) {
      const { bytesWritten } = await handle.write(data, offset + done, length - done, position + done)
      done += bytesWritten
    }
    this.dirty = true
  }

  async read (position: number, into: Uint8Array, offset: number, length: number): Promise<void> {
    const handle = await this.opened(false)
    let done = 0
    while (handle && done < length) {
      const { bytesRead } = await handle.read(into, offset + done, length - done, position + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
    into.fill(0, offset + done, offset + length)
  }

  async sync (): Promise<void> {
    if (!this.dirty || !this.handle) return
    this.dirty = false
    await (await this.handle)?.datasync()
  }

  async close (): Promise<void> {
    const handle = this.handle
    this.handle = undefined
    await (await handle?.catch(() => undefined))?.close().catch(() => {})
  }

  async delete (): Promise<void> {
    await this.close()
    await rm(this.path, { force: true })
  }

  private async opened (create: boolean): Promise<FileHandle | undefined> {
    const current = this.handle ??= open(this.path, 'r+').catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
      if (!create) return undefined
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
      return open(this.path, 'w+')
    })
    const handle = await current
    if (handle || !create) return handle
    // Looked for by a read before anything was written: open again, creating it.
    if (this.handle === current) this.handle = undefined
    return this.opened(true)
  }
}
