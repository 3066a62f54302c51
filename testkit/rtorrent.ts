import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseTorrentFile } from '../src/engine/metainfo.js'
import { freePort } from '../src/util/ports.js'
import { stopProcess, waitFor, type Cleanup } from './process.js'
import { scgiCall, type XmlRpcValue } from './xmlrpc.js'

export interface Rtorrent {
  readonly process: ChildProcess
  /** Where rtorrent accepts peers (TCP on all interfaces). */
  readonly port: number
  /** rtorrent's default download folder: a multi-file torrent is saved in `<directory>/<name>`. */
  readonly directory: string
  call (method: string, ...params: XmlRpcValue[]): Promise<XmlRpcValue>
  /**
   * Loads a .torrent and starts it (data already in `directory` is hash-checked and seeded), and
   * waits until rtorrent lists it: the load is not finished when the call returns.
   */
  add (torrentFile: string): Promise<void>
  output (): string
}

export interface RtorrentDownload {
  readonly complete: boolean
  readonly hashing: boolean
  readonly bytesDone: number
  readonly uploaded: number
  readonly peers: number
  readonly message: string
}

/**
 * Runs rtorrent 0.9 headless at its defaults: only what a user sets to run it somewhere (the
 * download and session folders, a listening port) and an XML-RPC socket to drive it. rtorrent's
 * defaults that matter here: TCP only, no DHT, PEX on, encryption off (plaintext both ways).
 */
export async function startRtorrent (t: Cleanup, dir: string, directory: string): Promise<Rtorrent> {
  await mkdir(join(dir, 'session'), { recursive: true })
  await mkdir(directory, { recursive: true })
  const port = await freePort()
  const socket = join(dir, 'rpc.socket')
  const rc = join(dir, 'rtorrent.rc')
  await writeFile(rc, [
    `directory.default.set = ${directory}`,
    `session.path.set = ${join(dir, 'session')}`,
    `network.port_range.set = ${port}-${port}`,
    'network.port_random.set = no',
    `network.scgi.open_local = ${socket}`,
    ''
  ].join('\n'))
  // Daemon mode: no curses screen, so no terminal is needed.
  const child = spawn('rtorrent', ['-n', '-o', 'system.daemon.set=true', '-o', `import=${rc}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(() => stopProcess(child))
  const call = (method: string, ...params: XmlRpcValue[]): Promise<XmlRpcValue> => scgiCall(socket, method, params)
  await waitFor('rtorrent to answer XML-RPC', async () => {
    if (child.exitCode !== null) throw new Error(`rtorrent exited with ${child.exitCode}: ${output}`)
    return await call('system.client_version')
  }, 30_000)
  return {
    process: child,
    port,
    directory,
    call,
    add: async (torrentFile) => {
      const metainfo = await readFile(torrentFile)
      const { infoHash } = await parseTorrentFile(metainfo)
      await call('load.raw_start', '', metainfo)
      await waitFor('rtorrent to list the torrent', async () => {
        const hashes = await call('download_list') as string[]
        return hashes.includes(infoHash.toUpperCase()) ? true : undefined
      }, 30_000, 100)
    },
    output: () => output
  }
}

/** A download's state in rtorrent (its info hash in any case). */
export async function rtorrentDownload (rtorrent: Rtorrent, infoHash: string): Promise<RtorrentDownload> {
  const hash = infoHash.toUpperCase()
  const [complete, hashing, bytesDone, uploaded, peers, message] = await Promise.all([
    rtorrent.call('d.complete', hash), rtorrent.call('d.hashing', hash), rtorrent.call('d.bytes_done', hash),
    rtorrent.call('d.up.total', hash), rtorrent.call('d.peers_connected', hash), rtorrent.call('d.message', hash)
  ])
  return { complete: complete === 1, hashing: hashing !== 0, bytesDone: Number(bytesDone), uploaded: Number(uploaded), peers: Number(peers), message: String(message) }
}

/** Asks rtorrent to connect to a peer (its `add_peer` command on a download). */
export async function rtorrentAddPeer (rtorrent: Rtorrent, infoHash: string, address: string): Promise<void> {
  await rtorrent.call('add_peer', infoHash.toUpperCase(), address)
}

/** How rtorrent sees a download's peers: address, client, whether the connection is encrypted, who dialed. */
export async function rtorrentPeers (rtorrent: Rtorrent, infoHash: string): Promise<string[]> {
  const rows = await rtorrent.call('p.multicall', infoHash.toUpperCase(), '', 'p.address=', 'p.port=', 'p.client_version=', 'p.is_encrypted=', 'p.is_incoming=') as XmlRpcValue[][]
  return rows.map(([address, port, client, encrypted, incoming]) =>
    `${String(address)}:${String(port)} "${String(client)}" ${encrypted === 1 ? 'encrypted' : 'plaintext'} ${incoming === 1 ? 'incoming' : 'outgoing'}`)
}
