import { useEffect, useState } from 'preact/hooks'
import type { TorrentView, VoucherTotals } from '../api/types.js'
import type { Api } from './api.js'
import { btt, rate, units } from './format.js'
import { usePoll } from './hooks.js'

/** Samples kept for the chart: five minutes at one a second. */
const SAMPLES = 300

export interface Sample { readonly down: number, readonly up: number }

/** Earned and spent, per torrent and per peer; the swarms' health; the throughput of the last minutes. */
/** The total rates of each torrent list polled, kept while the dashboard is open (whichever view shows). */
export function useThroughput (torrents: readonly TorrentView[] | undefined): readonly Sample[] {
  const [samples, setSamples] = useState<readonly Sample[]>([])
  useEffect(() => {
    if (!torrents) return
    const down = torrents.reduce((sum, torrent) => sum + torrent.downloadRate, 0)
    const up = torrents.reduce((sum, torrent) => sum + torrent.uploadRate, 0)
    setSamples((before) => [...before, { down, up }].slice(-SAMPLES))
  }, [torrents])
  return samples
}

export function Market ({ api, torrents, samples }: { api: Api, torrents: readonly TorrentView[], samples: readonly Sample[] }) {
  const earnings = usePoll(() => api.earnings(), 3000)
  const spending = usePoll(() => api.spending(), 3000)
  const names = new Map(torrents.map((torrent) => [torrent.infoHash, torrent.name]))
  return (
    <main class="market">
      <h3>Throughput</h3>
      <Chart samples={samples} />
      <div class="books">
        <Book title="Earned" totals={earnings.data} error={earnings.error} names={names} />
        <Book title="Spent" totals={spending.data} error={spending.error} names={names} />
      </div>
      <Wallet api={api} />
      <h3>Swarms</h3>
      <table class="swarms">
        <thead><tr><th>Torrent</th><th>Seeds</th><th>Peers</th><th>Known</th><th>Distributed copies</th><th>Rarest piece</th><th>Bid</th><th>Floor</th><th>Paid</th></tr></thead>
        <tbody>{torrents.map((torrent) => (
          <tr key={torrent.infoHash} data-infohash={torrent.infoHash}><td>{torrent.name}</td><td>{torrent.seeds}</td><td>{torrent.peers}</td><td>{torrent.knownPeers}</td>
            <td class="copies">{torrent.swarm.distributedCopies?.toFixed(3) ?? '—'}</td><td class="rarest">{torrent.swarm.rarestPieceCopies ?? '—'}</td>
            <td>{btt(torrent.market?.bid)}</td><td>{btt(torrent.market?.floor)}</td><td>{btt(torrent.market?.paid)}</td></tr>
        ))}</tbody>
      </table>
    </main>
  )
}

function Book ({ title, totals, error, names }: { title: string, totals: VoucherTotals | undefined, error: string | null, names: ReadonlyMap<string, string> }) {
  if (error) return <section><h3>{title}</h3><p class="muted">{error}</p></section>
  return (
    <section class={`book ${title.toLowerCase()}`}>
      <h3>{title}: {btt(totals?.total)} BTT</h3>
      <table>
        <thead><tr><th>Torrent / peer wallet</th><th>BTT</th><th>Vouchers</th></tr></thead>
        <tbody>{(totals?.torrents ?? []).flatMap((torrent) => [
          <tr key={torrent.infoHash} class="group"><td>{names.get(torrent.infoHash) ?? torrent.infoHash}</td><td>{btt(torrent.total)}</td><td></td></tr>,
          ...torrent.peers.map((peer) => <tr key={`${torrent.infoHash}-${peer.channel}`}><td class="indent">{peer.wallet}</td><td>{btt(peer.amount)}</td><td>{peer.vouchers}</td></tr>)
        ])}</tbody>
      </table>
    </section>
  )
}

/** Download and upload rates as two lines, the latest at the right, scaled to the highest rate in the window. */
function Chart ({ samples }: { samples: readonly Sample[] }) {
  const width = 600
  const height = 120
  const top = Math.max(1, ...samples.map((sample) => Math.max(sample.down, sample.up)))
  const line = (pick: (sample: Sample) => number): string => samples
    .map((sample, i) => `${(width - ((samples.length - 1 - i) / (SAMPLES - 1)) * width).toFixed(1)},${(height - (pick(sample) / top) * height).toFixed(1)}`).join(' ')
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label="download and upload rate">
        <rect x="0" y="0" width={width} height={height} class="frame" />
        <polyline points={line((sample) => sample.down)} class="down" />
        <polyline points={line((sample) => sample.up)} class="up" />
      </svg>
      <figcaption><span class="down">▬ down</span> <span class="up">▬ up</span> · top {rate(top)}</figcaption>
    </figure>
  )
}

/** The wallet's balances and its payment channels, when the daemon settles on a chain. */
function Wallet ({ api }: { api: Api }) {
  const wallet = usePoll(() => api.wallet(), 10_000)
  const channels = usePoll(() => api.channels(), 10_000)
  if (!wallet.data) return <section class="wallet"><h3>Wallet</h3><p class="muted">{wallet.error ?? 'Loading…'}</p></section>
  const { tron, native, nativeCurrency, chainId, token } = wallet.data
  return (
    <section class="wallet">
      <h3>Wallet {tron}</h3>
      <p>{units(native, nativeCurrency.decimals)} {nativeCurrency.symbol} on chain {chainId}{token ? ` · deposit token ${btt(token.balance)} BTT` : ''}</p>
      <table class="channels">
        <thead><tr><th>Channel</th><th>Role</th><th>With</th><th>Deposited</th><th>Paid</th><th>Claimed</th><th>State</th></tr></thead>
        <tbody>{(channels.data ?? []).map((channel) => (
          <tr key={channel.channel}><td>{channel.channel}</td><td>{channel.role}</td><td>{channel.counterpart}</td><td>{btt(channel.deposited)}</td>
            <td>{btt(channel.paid)}</td><td>{btt(channel.claimed)}</td><td>{channel.state}</td></tr>
        ))}</tbody>
      </table>
    </section>
  )
}
