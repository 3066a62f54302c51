import t from 'tap'
import { mkdir, readFile, stat } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { PeerInfo, TorrentView } from '../src/api/types.js'
import { startDaemon, tempDir, type RunningDaemon } from '../testkit/daemon.js'
import { writeFixture } from '../testkit/fixture.js'
import { marketDaemon, MiB } from '../testkit/market.js'
import { ROOT, runCli, waitFor, type Cleanup } from '../testkit/process.js'

/** Screenshots of each step, kept after the run (test/.artifacts is not committed). */
const ARTIFACTS = join(ROOT, 'test', '.artifacts', 'dashboard')
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** A raw HTTP request, so that Host, Origin and odd paths go out exactly as written. */
async function raw (port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function token (daemon: RunningDaemon): Promise<string> {
  return (await readFile(join(daemon.dataDir, 'api.token'), 'utf8')).trim()
}

async function launch (t: Cleanup): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  return browser
}

/** Opens a daemon's dashboard in a fresh context and logs in with its token. */
async function logIn (browser: Browser, daemon: RunningDaemon): Promise<Page> {
  const page = await (await browser.newContext()).newPage()
  const problems: string[] = []
  // A CSP violation or a script error shows here; the wrong token's 401 is expected.
  page.on('console', (message) => { if (message.type() === 'error' && !/status of 401/.test(message.text())) problems.push(message.text()) })
  page.on('pageerror', (err) => problems.push(err.message))
  await page.goto(`http://127.0.0.1:${daemon.apiPort}/`)
  await page.fill('input[name=token]', 'not-the-token')
  await page.click('button[type=submit]')
  await page.waitForSelector('text=That is not this daemon\'s API token.')
  await page.fill('input[name=token]', await token(daemon))
  await page.click('button[type=submit]')
  await page.waitForSelector('table.torrents')
  if (problems.length > 0) throw new Error(`the page reported: ${problems.join('; ')}`)
  return page
}

async function shot (page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
}

/** The progress the torrent's row in the list shows, in percent. */
async function rowProgress (page: Page, infoHash: string): Promise<number> {
  const value = await page.locator(`table.torrents tr[data-infohash="${infoHash}"] [role=progressbar]`).getAttribute('aria-valuenow')
  return Number(value)
}

t.before(async () => {
  await mkdir(ARTIFACTS, { recursive: true })
  t.comment(`screenshots in ${ARTIFACTS}`)
})

t.test('the daemon serves the built dashboard safely: strict CSP, known files only, allowed hosts, no cross-origin writes', async (t) => {
  const daemon = await startDaemon(t)
  const port = daemon.apiPort
  const page = await raw(port, 'GET', '/')
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.headers['content-security-policy'], /default-src 'none'; script-src 'self'/)
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  t.notMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script')
  t.notMatch(page.body, /https?:\/\//, 'nothing from another site')
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1]
  t.ok(script, 'the page loads its script from /assets/')
  const asset = await raw(port, 'GET', script!)
  t.equal(asset.status, 200)
  t.match(asset.headers['content-type'], /^text\/javascript/)
  for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json', '/assets/%2e%2e/%2e%2e/package.json', '/..%5cpackage.json', '//etc/passwd']) {
    const answer = await raw(port, 'GET', path)
    t.not(answer.status, 200, `${path} is not served`)
    t.notMatch(answer.body, /"name": "bidtorrent"|root:/, `${path} leaks nothing`)
  }
  const auth = { authorization: `Bearer ${await token(daemon)}` }
  t.equal((await raw(port, 'GET', '/', { host: 'evil.example' })).status, 421, 'a name not allowed (DNS rebinding) is refused')
  t.equal((await raw(port, 'GET', '/v1/status', { ...auth, host: `localhost:${port}` })).status, 200, 'localhost is allowed')
  const evil = await raw(port, 'POST', '/v1/settle', { ...auth, origin: 'http://evil.example' })
  t.equal(evil.status, 403, 'a POST from another origin is refused, token or not')
  t.match(evil.body, /ECROSSORIGIN/)
  t.equal((await raw(port, 'POST', '/v1/settle', { ...auth, 'sec-fetch-site': 'cross-site' })).status, 403, 'and so is one the browser calls cross-site')
  t.equal((await raw(port, 'DELETE', '/v1/torrents/x', { ...auth, origin: 'null' })).status, 403, 'and one from an opaque origin')
  t.equal((await raw(port, 'POST', '/v1/torrents/x/pause', { ...auth, origin: `http://127.0.0.1:${port}` })).status, 404, 'the page\'s own origin goes through (to an unknown torrent)')

  // The same from a real page on another origin: its fetch never reaches the API.
  const browser = await launch(t)
  const other = await (await browser.newContext()).newPage()
  await other.goto(`http://localhost:${port}/`)
  const status = await other.evaluate(async (url) => {
    const answer = await fetch(url, { method: 'POST', mode: 'no-cors', body: '{}' }).catch(() => null)
    return answer?.type ?? 'failed'
  }, `http://127.0.0.1:${port}/v1/settle`)
  t.ok(status === 'opaque' || status === 'failed', `a page elsewhere gets no answer (${status})`)
})

t.test('in the dashboard: log in, add a magnet, bid (the seller ranks us), watch it finish; add a .torrent, skip a file, and it is not downloaded', async (t) => {
  const seller = await marketDaemon(t)
  const buyer = await marketDaemon(t)
  const work = await tempDir(t)
  const sellerPeer = `127.0.0.1:${seller.daemon.peerPort}`

  // A slow seller (64 KiB/s), so the bid is placed while the download runs.
  await writeFixture(join(work, 'source'), [{ path: 'movie.bin', size: 3 * MiB }, { path: 'pack/a.bin', size: MiB + 11 }, { path: 'pack/b.bin', size: MiB + 7 }])
  const packFile = join(work, 'pack.torrent')
  const packSeeded = await runCli(['seed', join(work, 'source', 'pack'), '--piece-length', '16KiB', '--save-torrent', packFile, '--data-dir', seller.daemon.dataDir, '--json'])
  t.equal(packSeeded.code, 0, `seeded pack/ ${packSeeded.code === 0 ? '' : packSeeded.stderr}`)
  const pack = JSON.parse(packSeeded.stdout) as TorrentView

  const browser = await launch(t)
  // The seller seeds from its own dashboard, as `bidtorrent seed` would, and shares the magnet it shows.
  const sellerPage = await logIn(browser, seller.daemon)
  await sellerPage.fill('form.seed input[name=path]', join(work, 'source', 'movie.bin'))
  await sellerPage.fill('form.seed input[name=floor]', '1000')
  await sellerPage.fill('form.seed input[name=uploadLimit]', '64KiB/s')
  await sellerPage.click('form.seed button[type=submit]')
  const shared = sellerPage.locator('form.seed input.seeded-magnet')
  await shared.waitFor()
  const magnet = await shared.inputValue()
  const movie = (await seller.daemon.api.request<TorrentView[]>('GET', '/v1/torrents')).find((torrent) => torrent.name === 'movie.bin')!
  t.equal(magnet, movie.magnet, 'the seller\'s page seeded movie.bin and shows its magnet link')
  t.equal(movie.market?.floor, '1000', 'with the floor given in the page')
  t.equal(movie.uploadLimit, 64 * 1024, 'and its upload limit')

  const page = await logIn(browser, buyer.daemon)
  await page.reload()
  await page.waitForSelector('table.torrents')
  t.pass('a reload keeps the tab logged in (the token is in its session storage)')
  await shot(page, '1-logged-in')
  await page.fill('input[name=magnet]', `${magnet}&x.pe=${sellerPeer}`)
  await page.click('form.add button[type=submit]')
  const row = page.locator(`table.torrents tr[data-infohash="${movie.infoHash}"]`)
  await row.waitFor()
  await row.locator('a').click()
  await page.waitForSelector(`section.detail[data-infohash="${movie.infoHash}"] table.files tr[data-file="movie.bin"]`)

  // The seller's own dashboard shows the buyer unranked, then ranked once it bids.
  await sellerPage.locator(`table.torrents tr[data-infohash="${movie.infoHash}"] a`).click()
  const buyerRow = sellerPage.locator('table.peers tr[data-peer]')
  await buyerRow.first().waitFor()
  t.equal((await buyerRow.first().locator('td.rank').textContent())?.trim(), '—', 'no bid, no rank')
  await shot(sellerPage, '2-seller-before-bid')
  await page.fill('form.bid input[name=price]', '5000')
  await page.fill('form.bid input[name=budget]', '1BTT')
  await page.click('form.bid button[type=submit]')
  await page.locator('.market-summary .bid-now').filter({ hasText: '0.000000000000005 BTT/MiB' }).waitFor()
  await sellerPage.locator('table.peers tr[data-peer] td.rank').filter({ hasText: '1' }).waitFor({ timeout: 60_000 })
  t.equal((await buyerRow.first().locator('td.their-bid').textContent())?.trim(), '0.000000000000005', 'the seller sees the bid')
  const peers = await seller.daemon.api.request<PeerInfo[]>('GET', `/v1/torrents/${movie.infoHash}/peers`)
  t.equal(peers[0]?.market?.theirBid, '5000', 'and its API agrees')
  await shot(sellerPage, '3-seller-after-bid')
  await sellerPage.fill('form.floor input[name=floor]', '2000')
  await sellerPage.click('form.floor button[type=submit]')
  await sellerPage.locator('.market-summary').filter({ hasText: 'floor 0.000000000000002 BTT/MiB' }).waitFor()
  t.equal((await seller.daemon.torrent(movie.infoHash)).market?.floor, '2000', 'the seller raised its floor in the page (the bid of 5000 still clears it)')
  await shot(page, '4-buyer-bidding')

  await seller.daemon.api.request('PATCH', `/v1/torrents/${movie.infoHash}/limits`, { uploadLimit: 0 })
  await waitFor('the magnet to reach 100% in the page', async () => (await rowProgress(page, movie.infoHash)) === 100 ? true : undefined, 300_000)
  await shot(page, '5-magnet-done')

  // The .torrent, paused: choose its files before anything comes in.
  await page.locator('section.detail button', { hasText: 'Close' }).click()
  await page.setInputFiles('input[name=torrent]', packFile)
  await page.fill('input[name=peers]', sellerPeer)
  await page.check('input[name=paused]')
  await page.click('form.add button[type=submit]')
  const packRow = page.locator(`table.torrents tr[data-infohash="${pack.infoHash}"]`)
  await packRow.locator('td.state', { hasText: 'paused' }).waitFor()
  await packRow.locator('a').click()
  const skip = page.getByLabel('download pack/b.bin')
  await skip.waitFor()
  await skip.click()
  await page.locator('section.detail tr[data-file="pack/b.bin"] select option[value=skip]').waitFor({ state: 'attached' })
  await packRow.locator('button', { hasText: 'Resume' }).click()
  await waitFor('the chosen file to reach 100% in the page', async () => (await rowProgress(page, pack.infoHash)) === 100 ? true : undefined, 300_000)
  await shot(page, '6-pack-done')

  const view = await buyer.daemon.torrent(pack.infoHash)
  t.equal(view.files.find((file) => file.path.endsWith('a.bin'))?.verified, MiB + 11, 'the wanted file is all there')
  t.equal((await stat(join(view.directory, 'pack', 'a.bin'))).size, MiB + 11)
  t.equal(view.files.find((file) => file.path.endsWith('b.bin'))?.priority, 'skip')
  await t.rejects(stat(join(view.directory, 'pack', 'b.bin')), 'the skipped file is not on disk')

  await page.locator('nav button', { hasText: 'Market' }).click()
  await page.waitForSelector('figure.chart svg polyline.down')
  await page.locator('section.book.spent h3').filter({ hasText: /Spent: 0\.\d*[1-9]/ }).waitFor({ timeout: 60_000 })
  const swarm = page.locator(`table.swarms tr[data-infohash="${pack.infoHash}"]`)
  await swarm.locator('td.copies').filter({ hasText: /^\d+\.\d{3}$/ }).waitFor()
  t.match(await swarm.locator('td.rarest').textContent(), /^\d+$/, 'the swarm\'s rarest piece is counted')
  await shot(page, '7-market')
})
