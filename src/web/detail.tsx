import { useState } from 'preact/hooks'
import type { FilesBody, PeerInfo, TorrentDetails } from '../api/types.js'
import type { Api } from './api.js'
import { Progress } from './progress.js'
import { btt, bytes, rate } from './format.js'
import { useAction, usePoll } from './hooks.js'

/** One torrent: its files (choose and rank them), its bid, and its peers with their market figures. */
export function Detail ({ api, id, onClose }: { api: Api, id: string, onClose: () => void }) {
  const details = usePoll(() => api.torrent(id), 1000, [id])
  const torrent = details.data
  if (!torrent) return <section class="detail">{details.error ? <p class="error">{details.error}</p> : 'Loading…'}</section>
  return (
    <section class="detail" data-infohash={torrent.infoHash}>
      <h2>{torrent.name} <button onClick={onClose}>Close</button></h2>
      <p class="muted">{torrent.infoHash} · {torrent.state} · {torrent.directory} · known peers {torrent.knownPeers}</p>
      <Files api={api} torrent={torrent} onChanged={details.refresh} />
      <Bid api={api} torrent={torrent} onChanged={details.refresh} />
      <Peers peers={torrent.peerList} />
      <h3>Trackers</h3>
      {torrent.trackers.length > 0 ? <ul class="trackers">{torrent.trackers.map((url) => <li key={url}>{url}</li>)}</ul> : <p class="muted">None: peers come from the DHT, PEX, local discovery or the user.</p>}
      {torrent.webSeeds.length > 0 && (
        <>
          <h3>Web seeds</h3>
          <ul>{torrent.webSeeds.map((seed) => <li key={seed.url}>{seed.url}: {seed.state}</li>)}</ul>
        </>
      )}
    </section>
  )
}

function Files ({ api, torrent, onChanged }: { api: Api, torrent: TorrentDetails, onChanged: () => void }) {
  const action = useAction()
  const change = (body: FilesBody): void => { void action.run(() => api.files(torrent.infoHash, body)).then(onChanged) }
  return (
    <>
      <h3>Files</h3>
      {action.error && <p class="error" role="alert">{action.error}</p>}
      <table class="files">
        <thead><tr><th>Want</th><th>Path</th><th>Size</th><th>Done</th><th>Priority</th></tr></thead>
        <tbody>
          {torrent.files.map((file) => (
            <tr key={file.index} data-file={file.path}>
              <td><input type="checkbox" aria-label={`download ${file.path}`} checked={file.priority !== 'skip'} disabled={action.busy}
                onChange={(event) => change(event.currentTarget.checked ? { priority: { normal: [String(file.index)] } } : { skip: [String(file.index)] })} /></td>
              <td>{file.path}</td>
              <td>{bytes(file.length)}</td>
              <td><Progress fraction={file.length > 0 ? file.verified / file.length : 1} /></td>
              <td>
                <select aria-label={`priority of ${file.path}`} value={file.priority} disabled={action.busy || file.priority === 'skip'}
                  onChange={(event) => {
                    const level = event.currentTarget.value as 'low' | 'normal' | 'high'
                    change({ priority: { [level]: [String(file.index)] } })
                  }}>
                  {file.priority === 'skip' && <option value="skip">skipped</option>}
                  <option value="low">low</option><option value="normal">normal</option><option value="high">high</option>
                </select>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  )
}

function Bid ({ api, torrent, onChanged }: { api: Api, torrent: TorrentDetails, onChanged: () => void }) {
  const market = torrent.market
  const [price, setPrice] = useState('')
  const [budget, setBudget] = useState('')
  const [floor, setFloor] = useState('')
  const action = useAction()
  if (!market) return <p class="muted">The market is off in this daemon (no wallet): no bids.</p>
  const submit = (event: Event): void => {
    event.preventDefault()
    void action.run(() => api.bid(torrent.infoHash, { price: price.trim(), ...(budget.trim() ? { budget: budget.trim() } : {}) })).then((ok) => {
      if (ok) onChanged()
    })
  }
  return (
    <>
      <h3>Market</h3>
      <p class="market-summary">Bid <span class="bid-now">{market.autoBid ? `auto (${btt(market.bid)} BTT/MiB)` : `${btt(market.bid)} BTT/MiB`}</span> ·
        budget {btt(market.budget)} BTT · paid {btt(market.paid)} BTT · floor {btt(market.floor)} BTT/MiB</p>
      <form class="bid" onSubmit={submit}>
        <input name="price" placeholder="bid: 0.001BTT/MiB, 5000 (base units) or auto" value={price} onInput={(event) => setPrice(event.currentTarget.value)} />
        <input name="budget" placeholder="budget: 1BTT" value={budget} onInput={(event) => setBudget(event.currentTarget.value)} />
        <button type="submit" disabled={action.busy}>Set bid</button>
        {action.error && <span class="error" role="alert">{action.error}</span>}
      </form>
      <form class="floor" onSubmit={(event) => {
        event.preventDefault()
        void action.run(() => api.floor(torrent.infoHash, { floor: floor.trim() === '' ? null : floor.trim() })).then((ok) => { if (ok) onChanged() })
      }}>
        <input name="floor" placeholder="floor: 20BTT/MiB (empty: the daemon's)" value={floor} onInput={(event) => setFloor(event.currentTarget.value)} />
        <button type="submit" disabled={action.busy}>Set floor</button>
      </form>
      {market.notices.length > 0 && <ul class="notices">{market.notices.map((notice) => <li key={notice.at}>{notice.at}: {notice.message}</li>)}</ul>}
      {market.sellers.length > 0 && (
        <table class="sellers">
          <thead><tr><th>Seller</th><th>State</th><th>Our bid</th><th>Rate</th><th>Rank</th><th>Owed</th><th>Paid</th></tr></thead>
          <tbody>{market.sellers.map((seller) => (
            <tr key={seller.address}><td>{seller.address}</td><td>{seller.state}{seller.reason ? `: ${seller.reason}` : ''}</td><td>{btt(seller.bid)}</td>
              <td>{btt(seller.rate)}</td><td>{seller.rank}</td><td>{btt(seller.owed)}</td><td>{btt(seller.paid)}</td></tr>
          ))}</tbody>
        </table>
      )}
    </>
  )
}

/** Bid, rank and slot: what the market made of each peer; owed and paid both ways. */
export function Peers ({ peers }: { peers: readonly PeerInfo[] }) {
  return (
    <>
      <h3>Peers</h3>
      <table class="peers">
        <thead><tr><th>Address</th><th>Client</th><th>Has</th><th>Down</th><th>Up</th><th>Slot</th><th>Their bid</th><th>Rank</th><th>Our rate</th><th>Their rate</th><th>Owed by them</th><th>Owed to them</th><th>Paid to them</th></tr></thead>
        <tbody>{peers.map((peer) => (
          <tr key={peer.address} data-peer={peer.address}>
            <td>{peer.address}</td><td>{peer.client}</td><td><Progress fraction={peer.progress} /></td>
            <td>{rate(peer.downloadRate)}</td><td>{rate(peer.uploadRate)}</td><td>{peer.slot ?? (peer.amChoking ? 'choked' : '—')}</td>
            <td class="their-bid">{peer.market ? btt(peer.market.theirBid) : '—'}</td>
            <td class="rank">{peer.market && peer.market.rank > 0 ? peer.market.rank : '—'}</td>
            <td>{peer.market ? btt(peer.market.rateToThem) : '—'}</td><td>{peer.market ? btt(peer.market.rateFromThem) : '—'}</td>
            <td>{peer.market ? btt(peer.market.owedByThem) : '—'}</td><td>{peer.market ? btt(peer.market.owedToThem) : '—'}</td>
            <td>{peer.market ? btt(peer.market.paidToThem) : '—'}</td>
          </tr>
        ))}</tbody>
      </table>
    </>
  )
}
