import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { parseTorrentFile } from '../src/engine/metainfo.js'
import { SYSTEM_PYTHON } from './clients.js'
import { run } from './process.js'

/** Makes a torrent of `target` with mktorrent (written into `work`) and returns its info hash. */
export async function mktorrentInfoHash (work: string, target: string, pieceLength: number): Promise<string> {
  const out = join(work, `mktorrent-${pieceLength}.torrent`)
  await rm(out, { force: true })
  const made = await run('mktorrent', ['-l', String(Math.log2(pieceLength)), '-a', 'http://127.0.0.1:1/announce', '-o', out, target])
  if (made.code !== 0) throw new Error(`mktorrent failed: ${made.stderr}`)
  return (await parseTorrentFile(await readFile(out))).infoHash
}

// add_files lists a folder in readdir's order (by hash on ext4): the files go in by name instead,
// depth first, as create-torrent, mktorrent and bidtorrent list them, so that the info hashes can agree.
const LIBTORRENT_CREATE = `
import os, sys, libtorrent as lt
target, piece_length = sys.argv[1], int(sys.argv[2])
fs = lt.file_storage()
parent = os.path.dirname(target)
def add(path):
    if os.path.isdir(path):
        for name in sorted(os.listdir(path)):
            add(os.path.join(path, name))
    else:
        fs.add_file(os.path.relpath(path, parent), os.path.getsize(path))
add(target)
t = lt.create_torrent(fs, piece_length, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(t, parent)
print(lt.torrent_info(t.generate()).info_hash())
`

/** Makes a v1 torrent of `target` with libtorrent's create_torrent and returns its info hash. */
export async function libtorrentInfoHash (target: string, pieceLength: number): Promise<string> {
  const made = await run(SYSTEM_PYTHON, ['-c', LIBTORRENT_CREATE, target, String(pieceLength)])
  if (made.code !== 0) throw new Error(`libtorrent's create_torrent failed: ${made.stderr}`)
  return made.stdout.trim()
}

const LIBTORRENT_MAKE = `
import sys, libtorrent as lt
target, piece_length, kind, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
fs = lt.file_storage()
lt.add_files(fs, target)
flags = {'v1-padded': lt.create_torrent.v1_only | lt.create_torrent.canonical_files, 'hybrid': 0, 'v2': lt.create_torrent.v2_only}[kind]
t = lt.create_torrent(fs, piece_length, flags=flags)
lt.set_piece_hashes(t, __import__('os').path.dirname(target))
open(out, 'wb').write(lt.bencode(t.generate()))
`

/**
 * Writes a .torrent of `target` made by libtorrent's create_torrent to `out`: `v1-padded` is v1
 * with the pad files (BEP 47) that align each file to a piece, as a v2 torrent lays them out;
 * `hybrid` and `v2` are libtorrent's defaults for those (a hybrid torrent's v1 half has pad files).
 */
export async function libtorrentTorrent (target: string, pieceLength: number, kind: 'v1-padded' | 'hybrid' | 'v2', out: string): Promise<void> {
  const made = await run(SYSTEM_PYTHON, ['-c', LIBTORRENT_MAKE, target, String(pieceLength), kind, out])
  if (made.code !== 0) throw new Error(`libtorrent's create_torrent failed: ${made.stderr}`)
}
