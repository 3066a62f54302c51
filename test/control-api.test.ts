import t from 'tap'
import { readFile, stat } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { startDaemon } from '../testkit/daemon.js'

/** Local addresses of listening TCP sockets on `port`, read from the kernel's table (no traffic sent). */
async function listeningAddresses (port: number): Promise<string[]> {
  const found: string[] = []
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '')
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 4 || fields[3] !== '0A') continue // 0A = LISTEN
      const [address, portHex] = fields[1]!.split(':')
      if (parseInt(portHex!, 16) === port) found.push(address!)
    }
  }
  return found
}

function tryConnect (host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    socket.setTimeout(5000, () => { socket.destroy(); resolve('timeout') })
    socket.once('connect', () => { socket.destroy(); resolve('connected') })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
}

t.test('the control API wants its token and listens on 127.0.0.1 only', async (t) => {
  const daemon = await startDaemon(t)
  const endpointFile = join(daemon.dataDir, 'api.json')
  t.equal((await stat(endpointFile)).mode & 0o777, 0o600, 'the token file is readable by its owner only')
  const { url, token } = JSON.parse(await readFile(endpointFile, 'utf8')) as { url: string; token: string }
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.ok(token.length >= 64, 'a 256-bit random token')

  const anonymous = await fetch(`${url}/v1/torrents`)
  t.equal(anonymous.status, 401, 'no token: refused')
  const forged = await fetch(`${url}/v1/torrents`, { headers: { authorization: `Bearer ${'0'.repeat(token.length)}` } })
  t.equal(forged.status, 401, 'wrong token: refused')
  const anonymousWrite = await fetch(`${url}/v1/seed`, { method: 'POST', body: '{"path":"/etc"}' })
  t.equal(anonymousWrite.status, 401, 'no token: nothing is seeded')
  const allowed = await fetch(`${url}/v1/torrents`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(allowed.status, 200, 'right token: served')
  t.same(await allowed.json(), [])

  const addresses = await listeningAddresses(daemon.apiPort)
  t.same(addresses, ['0100007F'], 'the only listening socket on the API port is bound to 127.0.0.1 (not 0.0.0.0 or ::)')
  t.equal(await tryConnect('127.0.0.2', daemon.apiPort), 'ECONNREFUSED', 'another address of this machine is refused')
})
