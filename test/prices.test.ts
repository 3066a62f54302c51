import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import winston from 'winston'
import { PriceOracle } from '../src/market/price-oracle.js'
import { moneyInBtt } from '../src/config/money.js'
import { BASE_UNITS_PER_BTT, formatQuote, isUsd, moneyToBtt, parseAmount, parseDecimal, parseMoney, parsePrice, parseQuote, quoteFromText, quoteText, readableBtt, readablePrice, usdToBtt } from '../src/money/price.js'

const quiet = winston.createLogger({ silent: true })

t.test('prices in BTT and in USD parse exactly, and a USD price turns into BTT at a given BTT price', async (t) => {
  t.equal(parsePrice('0.5BTT/MiB'), BASE_UNITS_PER_BTT / 2n)
  t.equal(parseQuote('2BTT/GiB'), 2n * BASE_UNITS_PER_BTT / 1024n, 'a BTT quote is a plain price')
  const usd = parseQuote('0.05USD/GiB')
  t.ok(isUsd(usd))
  t.same(usd, { usdPerMiB: 5n * 10n ** 16n / 1024n }, 'USD per GiB is held per MiB, in 10^-18 USD, exactly')
  t.same(quoteFromText(quoteText(usd)), usd, 'stored and read back unchanged')
  t.equal(formatQuote(usd), '0.0000488281 USD/MiB', 'shown to six significant digits')
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

t.test('amounts in BTT or in USD: exact in base units, shown readably, and the daemon\'s money settings turned into BTT at the BTT price', async (t) => {
  t.equal(parseMoney('25BTT'), 25n * BASE_UNITS_PER_BTT)
  t.equal(parseMoney('1000'), 1000n, 'base units')
  t.same(parseMoney('0.05USD'), { usd: 5n * 10n ** 16n }, 'USD in 10^-18 USD, exactly')
  t.throws(() => parseAmount('0.05USD'), /this takes BTT or base units/, 'where only BTT makes sense, USD is refused plainly')
  t.throws(() => parseMoney('1.5'), /base units are whole numbers/)
  // 2025–26: about 0.0000006 USD a BTT, so 0.05 USD/GiB (a CDN's price) is about 81 BTT/MiB.
  const price = parseDecimal('0.0000006')
  t.equal(moneyToBtt({ usd: 10n ** 18n }, price), 1_666_666_666_666_666_666_666_666n, '1 USD is 1,666,666.67 BTT, rounded down to the base unit')
  t.equal(readablePrice(usdToBtt((parseQuote('0.05USD/GiB') as { usdPerMiB: bigint }).usdPerMiB, price)), '81.3802 BTT/MiB')
  t.equal(readableBtt(1_666_666_666_666_666_666_666_666n), '1,666,670 BTT', 'six significant digits, thousands grouped')
  t.equal(readableBtt(1908n * 10n ** 15n), '1.908 BTT')
  t.equal(readableBtt(123456789n), '0.000000000123457 BTT', 'small amounts keep their significant digits')
  t.equal(readableBtt(0n), '0 BTT')
  const settings = { paymentThreshold: parseMoney('0.0005USD'), embeddedCreditCap: parseMoney('5USD'), channelDeposit: parseMoney('2BTT'), minClaim: parseMoney('0.01USD') }
  const { values, derived } = moneyInBtt(settings, price)
  t.equal(values.paymentThreshold, 833_333_333_333_333_333_333n, '0.0005 USD is 833.33 BTT')
  t.equal(values.embeddedCreditCap, 8_333_333_333_333_333_333_333_333n, '5 USD is 8.33 million BTT')
  t.equal(values.channelDeposit, 2n * BASE_UNITS_PER_BTT, 'an amount in BTT stays as given')
  t.same(derived.map((entry) => `${entry.setting}: ${entry.given} = ${entry.readable}`), [
    'paymentThreshold: 0.0005 USD = 833.333 BTT',
    'embeddedCreditCap: 5 USD = 8,333,330 BTT',
    'minClaim: 0.01 USD = 16,666.7 BTT'
  ], 'and says what each USD setting came to in BTT')
  t.throws(() => moneyInBtt(settings, undefined), /paymentThreshold is given in USD \(0.0005 USD\): set usdPerBtt/, 'no price, no conversion: said plainly')
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
