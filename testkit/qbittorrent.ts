import { spawn, type ChildProcess } from 'node:child_process'
import { pbkdf2Sync, randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { freePort } from '../src/util/ports.js'
import { stopProcess, waitFor, type Cleanup } from './process.js'

/** One torrent as qBittorrent's Web API v2 shows it (`/api/v2/torrents/info`), the fields the tests read. */
export interface QBittorrentTorrent {
  readonly hash: string
  readonly state: string
  readonly progress: number
  readonly amount_left: number
  readonly downloaded: number
  readonly uploaded: number
  readonly num_seeds: number
  readonly num_leechs: number
}

export interface QBittorrent {
  readonly process: ChildProcess
  /** Where qBittorrent accepts peers, TCP and uTP. */
  readonly port: number
  /** A Web API v2 call (logged in); `form` makes it a POST. */
  api (path: string, form?: FormData | URLSearchParams): Promise<Response>
  /** Adds a .torrent file or a magnet link, saving into `savePath`. */
  add (torrent: string, savePath: string): Promise<void>
  torrent (infoHash: string): Promise<QBittorrentTorrent | undefined>
  addPeer (infoHash: string, address: string): Promise<void>
  output (): string
}

const USER = 'bidtorrent'

/** qBittorrent's stored form of a WebUI password: PBKDF2-HMAC-SHA512, 100,000 rounds, 16-byte salt. */
function webUiPasswordHash (password: string): string {
  const salt = randomBytes(16)
  const key = pbkdf2Sync(password, salt, 100_000, 64, 'sha512')
  return `@ByteArray(${salt.toString('base64')}:${key.toString('base64')})`
}

/**
 * The profile a user of qbittorrent-nox has after first start, with what running it here needs: the
 * legal notice accepted, ports and folders, a WebUI account on 127.0.0.1. Off are only the parts that
 * reach beyond this machine (the DHT's bootstrap nodes, local discovery's multicast, UPnP/NAT-PMP to the
 * gateway, the peer-country database download): the tests stay on loopback. What shapes a connection
 * with bidtorrent stays at qBittorrent's defaults: TCP and uTP both (uTP tried first), encryption
 * preferred (plaintext allowed), one connection per IP, the default choker and limits.
 */
function profileConfig (port: number, webPort: number, password: string, savePath: string): string {
  return [
    '[LegalNotice]',
    'Accepted=true',
    '',
    '[BitTorrent]',
    `Session\\Port=${port}`,
    `Session\\DefaultSavePath=${savePath}`,
    'Session\\DHTEnabled=false',
    'Session\\LSDEnabled=false',
    '',
    '[Network]',
    'PortForwardingEnabled=false',
    '',
    '[Preferences]',
    'Connection\\ResolvePeerCountries=false',
    'WebUI\\Address=127.0.0.1',
    `WebUI\\Port=${webPort}`,
    `WebUI\\Username=${USER}`,
    `WebUI\\Password_PBKDF2="${webUiPasswordHash(password)}"`,
    ''
  ].join('\n')
}

export async function startQBittorrent (t: Cleanup, dir: string): Promise<QBittorrent> {
  const profile = join(dir, 'profile')
  const configDir = join(profile, 'qBittorrent', 'config')
  await mkdir(configDir, { recursive: true })
  const [port, webPort] = [await freePort(), await freePort()]
  const password = randomBytes(12).toString('hex')
  await writeFile(join(configDir, 'qBittorrent.conf'), profileConfig(port, webPort, password, join(dir, 'downloads')))
  // --confirm-legal-notice is for qBittorrent 5; 4.x reads the accepted notice from the profile.
  const child = spawn('qbittorrent-nox', [`--profile=${profile}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(() => stopProcess(child, 'SIGTERM', 30_000))
  const base = `http://127.0.0.1:${webPort}/api/v2`
  const cookie = await waitFor('qBittorrent\'s WebUI to log in', async () => {
    if (child.exitCode !== null) throw new Error(`qbittorrent-nox exited with ${child.exitCode}: ${output}`)
    const response = await fetch(`${base}/auth/login`, { method: 'POST', body: new URLSearchParams({ username: USER, password }) })
    const text = await response.text()
    if (text.trim() !== 'Ok.') throw new Error(`login answered ${response.status} ${text}`)
    return response.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ')
  }, 60_000, 300)
  const api = async (path: string, form?: FormData | URLSearchParams): Promise<Response> => {
    const response = await fetch(`${base}${path}`, { method: form ? 'POST' : 'GET', headers: { cookie }, ...(form ? { body: form } : {}) })
    if (!response.ok) throw new Error(`qBittorrent ${path}: ${response.status} ${await response.text()}`)
    return response
  }
  return {
    process: child,
    port,
    api,
    add: async (torrent, savePath) => {
      const form = new FormData()
      if (torrent.startsWith('magnet:')) form.append('urls', torrent)
      else form.append('torrents', new Blob([await readFile(torrent)]), basename(torrent))
      form.append('savepath', savePath)
      const text = await (await api('/torrents/add', form)).text()
      if (text.trim() !== 'Ok.') throw new Error(`qBittorrent refused the torrent: ${text}`)
    },
    torrent: async (infoHash) => {
      const list = await (await api(`/torrents/info?hashes=${infoHash.toLowerCase()}`)).json() as QBittorrentTorrent[]
      return list[0]
    },
    addPeer: async (infoHash, address) => {
      await api('/torrents/addPeers', new URLSearchParams({ hashes: infoHash.toLowerCase(), peers: address }))
    },
    output: () => output
  }
}
