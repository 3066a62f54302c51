import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import winston from 'winston'
import { PriceOracle } from '../src/market/price-oracle.js'
import { BASE_UNITS_PER_BTT, formatQuote, isUsd, parseDecimal, parsePrice, parseQuote, quoteFromText, quoteText, usdToBtt } from '../src/market/price.js'

const quiet = winston.createLogger({ silent: true })

t.test('prices in BTT and in USD parse exactly, and a USD price turns into BTT at a given BTT price', async (t) => {
  t.equal(parsePrice('0.5BTT/MiB'), BASE_UNITS_PER_BTT / 2n)
  t.equal(parseQuote('2BTT/GiB'), 2n * BASE_UNITS_PER_BTT / 1024n, 'a BTT quote is a plain price')
  const usd = parseQuote('0.05USD/GiB')
  t.ok(isUsd(usd))
  t.same(usd, { usdPerMiB: 5n * 10n ** 16n / 1024n }, 'USD per GiB is held per MiB, in 10^-18 USD, exactly')
  t.same(quoteFromText(quoteText(usd)), usd, 'stored and read back unchanged')
  t.equal(formatQuote(usd), '0.000048828125 USD/MiB')
  // At 0.0000005 USD a BTT (2,000,000 BTT a USD), 0.05 USD/GiB is 100,000 BTT/GiB.
  t.equal(usdToBtt((usd as { usdPerMiB: bigint }).usdPerMiB, 5n * 10n ** 11n), 100_000n * BASE_UNITS_PER_BTT / 1024n)
  t.throws(() => parseQuote('0.05EUR/GiB'), /invalid price/, 'other currencies are refused')
  t.throws(() => usdToBtt(1n, 0n), /above zero/)
  t.equal(parseDecimal('4.5e-7'), 45n * 10n ** 10n, 'a price feed\'s exponent form, exactly')
  t.equal(parseDecimal('1.5e3'), 1500n * BASE_UNITS_PER_BTT)
  t.equal(parseDecimal('0.1'), BASE_UNITS_PER_BTT / 10n, 'no float on the way (0.1 is not 0.1000000000000000055)')
  t.equal(parseDecimal('1.23456789012345678999e-1'), 123456789012345678n, 'digits finer than 10^-18 are cut')
  t.throws(() => parseDecimal('-1'), /invalid number/)
})

t.test('the price oracle: a fixed price, or a source polled over HTTP that keeps its last price when the source fails', async (t) => {
  const fixed = new PriceOracle({ usdPerBtt: '0.000001', url: null, path: '', refreshSeconds: 60 }, quiet)
  t.ok(fixed.configured)
  t.equal(fixed.toBtt(10n ** 12n), BASE_UNITS_PER_BTT, '10^-6 USD buys 1 BTT at 0.000001 USD a BTT')
  t.equal(new PriceOracle({ usdPerBtt: null, url: null, path: '', refreshSeconds: 60 }, quiet).toBtt(1n), undefined, 'no price, no conversion')

  let answer = '{"bittorrent":{"usd":4.5e-7}}'
  const server = createServer((_request, response) => response.end(answer))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const polled = new PriceOracle({ usdPerBtt: null, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, path: 'bittorrent.usd', refreshSeconds: 60 }, quiet)
  await polled.start()
  t.teardown(() => polled.stop())
  t.equal(polled.usdPerBtt, 45n * 10n ** 10n, 'a price given as a JSON number (4.5e-7) is read exactly')
  answer = 'not json'
  await polled.refresh()
  t.equal(polled.usdPerBtt, 45n * 10n ** 10n, 'a failing source leaves the last price')
  answer = '{"bittorrent":{"usd":"0.0000009"}}'
  await polled.refresh()
  t.equal(polled.usdPerBtt, 9n * 10n ** 11n, 'and a new price replaces it')
})
