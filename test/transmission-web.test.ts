import { existsSync } from 'node:fs'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { endpointOf, seedFile, startDaemon, tempDir, type RunningDaemon } from '../testkit/daemon.js'

const WEB = '/usr/share/transmission/web'
const MiB = 1024 * 1024

/** A GET with the path sent exactly as written (no URL normalization of `..`), and the password. */
async function get (daemon: RunningDaemon, path: string, password?: string): Promise<{ status: number, body: string, type: string }> {
  const { url, token } = await endpointOf(daemon)
  const authorization = `Basic ${Buffer.from(`web:${password ?? token}`).toString('base64')}`
  return await new Promise((resolve, reject) => {
    const call = request(url, { path, headers: { authorization } }, (response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => { body += chunk.toString() })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, type: String(response.headers['content-type'] ?? '') }))
    })
    call.on('error', reject)
    call.end()
  })
}

t.test('Transmission\'s web client, served from rpcWebFolder, lists bidtorrent\'s torrents in headless Chromium', { skip: existsSync(WEB) ? false : `${WEB} is not installed` }, async (t) => {
  const daemon = await startDaemon(t, { env: { BIDTORRENT_RPC_WEB_FOLDER: WEB } })
  await seedFile(t, daemon, 'web-one.bin', MiB)
  await seedFile(t, daemon, 'web-two.bin', 2 * MiB)
  const { url, token } = await endpointOf(daemon)
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  t.teardown(() => browser.close())
  const context = await browser.newContext({ httpCredentials: { username: 'web', password: token } })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  await page.goto(`${url}/transmission/web/`)
  const names = page.locator('#torrent_list .torrent_name')
  await names.nth(1).waitFor({ timeout: 60_000 })
  t.same((await names.allTextContents()).sort(), ['web-one.bin', 'web-two.bin'], 'both torrents listed by name')
  t.same(errors, [], 'without a script error')

  const unauthorized = await browser.newContext()
  const denied = await unauthorized.request.get(`${url}/transmission/web/`)
  t.equal(denied.status(), 401, 'without the password the page is not served')
  await unauthorized.close()
})

t.test('the web folder is served safely: nothing outside it, by .. or by a link', async (t) => {
  const work = await tempDir(t)
  const folder = join(work, 'web')
  await mkdir(join(folder, 'sub'), { recursive: true })
  await writeFile(join(folder, 'index.html'), '<p>hello</p>')
  await writeFile(join(folder, 'sub', 'app.js'), 'console.log(1)')
  await writeFile(join(work, 'secret.txt'), 'not for you')
  await symlink(join(work, 'secret.txt'), join(folder, 'leak.txt'))
  const daemon = await startDaemon(t, { env: { BIDTORRENT_RPC_WEB_FOLDER: folder } })

  const index = await get(daemon, '/transmission/web/')
  t.equal(index.status, 200, 'the index')
  t.match(index.type, /text\/html/)
  t.equal(index.body, '<p>hello</p>')
  t.match(await get(daemon, '/transmission/web/sub/app.js'), { status: 200, type: /javascript/, body: 'console.log(1)' }, 'a script, as a script')
  t.equal((await get(daemon, '/transmission/web')).status, 301, 'the folder without its slash: redirected')
  for (const path of ['/transmission/web/../../secret.txt', '/transmission/web/%2e%2e/secret.txt', '/transmission/web/sub/%2e%2e%2f%2e%2e%2fsecret.txt', '/transmission/web/..%5csecret.txt', '/transmission/web/leak.txt', '/transmission/web/%00', '/transmission/web/%zz', '/transmission/web/missing.js']) {
    const answer = await get(daemon, path)
    t.equal(answer.status, 404, `${path}: not found`)
    t.notMatch(answer.body, /not for you/, 'and nothing of what lies outside')
  }
  t.equal((await get(daemon, '/transmission/web/', 'wrong')).status, 401, 'the wrong password: 401')

  const none = await startDaemon(t)
  t.match(await get(none, '/transmission/web/'), { status: 404, body: /rpcWebFolder/ }, 'no folder set: 404, saying how to set one')
})
