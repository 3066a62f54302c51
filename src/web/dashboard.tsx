import { useRef, useState } from 'preact/hooks'
import type { TorrentView } from '../api/types.js'
import { Api, fileToBase64 } from './api.js'
import { Detail } from './detail.js'
import { bytes, eta, rate } from './format.js'
import { useAction, usePoll } from './hooks.js'
import { Market, useThroughput } from './market.js'
import { Progress } from './progress.js'

export function Dashboard ({ api, onLogout }: { api: Api, onLogout: () => void }) {
  const [view, setView] = useState<'torrents' | 'market'>('torrents')
  const [selected, setSelected] = useState<string | null>(null)
  const status = usePoll(() => api.status(), 5000)
  const torrents = usePoll(() => api.torrents(), 1000)
  const samples = useThroughput(torrents.data)
  return (
    <div class="page">
      <header>
        <strong>bidtorrent</strong>
        <nav>
          <button class={view === 'torrents' ? 'on' : ''} onClick={() => setView('torrents')}>Torrents</button>
          <button class={view === 'market' ? 'on' : ''} onClick={() => setView('market')}>Market</button>
        </nav>
        <span class="muted">{status.data ? `v${status.data.version} · peer port ${status.data.peerPort} · ${status.data.wallet ? `wallet ${status.data.wallet}` : 'market off'}` : ''}</span>
        <button onClick={onLogout}>Log out</button>
      </header>
      {(status.error ?? torrents.error) && <p class="error" role="alert">{status.error ?? torrents.error}</p>}
      {view === 'torrents' && (
        <main>
          <AddTorrent api={api} onAdded={torrents.refresh} />
          <SeedPath api={api} onSeeded={torrents.refresh} />
          <TorrentTable api={api} torrents={torrents.data ?? []} selected={selected} onSelect={setSelected} onChanged={torrents.refresh} />
          {selected && <Detail key={selected} api={api} id={selected} onClose={() => setSelected(null)} />}
        </main>
      )}
      {view === 'market' && <Market api={api} torrents={torrents.data ?? []} samples={samples} />}
    </div>
  )
}

function AddTorrent ({ api, onAdded }: { api: Api, onAdded: () => void }) {
  const [magnet, setMagnet] = useState('')
  const [file, setFile] = useState<File | null>(null)
  const [peers, setPeers] = useState('')
  const [paused, setPaused] = useState(false)
  const fileInput = useRef<HTMLInputElement>(null)
  const action = useAction()
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault()
    const options = { paused, peers: peers.split(/[\s,]+/).filter(Boolean) }
    const ok = await action.run(async () => {
      if (file) await api.add({ torrent: await fileToBase64(file), ...options })
      else if (magnet.trim()) await api.add({ magnet: magnet.trim(), ...options })
      else throw new Error('paste a magnet link or choose a .torrent file')
    })
    if (ok) {
      setMagnet('')
      setFile(null)
      setPeers('')
      if (fileInput.current) fileInput.current.value = ''
      onAdded()
    }
  }
  return (
    <form class="add" onSubmit={(event) => { void submit(event) }}>
      <input name="magnet" placeholder="magnet:?xt=urn:btih:…" value={magnet} onInput={(event) => setMagnet(event.currentTarget.value)} />
      <input ref={fileInput} name="torrent" type="file" accept=".torrent,application/x-bittorrent" onChange={(event) => setFile(event.currentTarget.files?.[0] ?? null)} />
      <input name="peers" placeholder="peers: HOST:PORT, … (optional)" value={peers} onInput={(event) => setPeers(event.currentTarget.value)} />
      <label><input name="paused" type="checkbox" checked={paused} onChange={(event) => setPaused(event.currentTarget.checked)} /> start paused</label>
      <button type="submit" disabled={action.busy}>Add</button>
      {action.error && <span class="error" role="alert">{action.error}</span>}
    </form>
  )
}

/** Seeds a file or folder on the daemon's machine, as `bidtorrent seed` does, and shows its magnet link to share. */
function SeedPath ({ api, onSeeded }: { api: Api, onSeeded: () => void }) {
  const [path, setPath] = useState('')
  const [floor, setFloor] = useState('')
  const [uploadLimit, setUploadLimit] = useState('')
  const [superSeed, setSuperSeed] = useState(false)
  const [seeded, setSeeded] = useState<TorrentView | null>(null)
  const action = useAction()
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault()
    let made: TorrentView | undefined
    const ok = await action.run(async () => {
      made = await api.seed({
        path: path.trim(),
        ...(floor.trim() ? { floor: floor.trim() } : {}),
        ...(uploadLimit.trim() ? { uploadLimit: uploadLimit.trim() } : {}),
        ...(superSeed ? { superSeed: true } : {})
      })
    })
    if (ok && made) {
      setSeeded(made)
      onSeeded()
    }
  }
  return (
    <form class="seed" onSubmit={(event) => { void submit(event) }}>
      <input name="path" placeholder="seed a path on the daemon's machine: /srv/patch-1.2" value={path} onInput={(event) => setPath(event.currentTarget.value)} />
      <input name="floor" placeholder="floor: 20BTT/MiB (optional)" value={floor} onInput={(event) => setFloor(event.currentTarget.value)} />
      <input name="uploadLimit" placeholder="upload limit: 2MiB/s (optional)" value={uploadLimit} onInput={(event) => setUploadLimit(event.currentTarget.value)} />
      <label><input name="superSeed" type="checkbox" checked={superSeed} onChange={(event) => setSuperSeed(event.currentTarget.checked)} /> super-seed</label>
      <button type="submit" disabled={action.busy}>{action.busy ? 'Hashing…' : 'Seed'}</button>
      {action.error && <span class="error" role="alert">{action.error}</span>}
      {seeded && <label class="seeded">{seeded.name}: <input class="seeded-magnet" readOnly value={seeded.magnet} onFocus={(event) => event.currentTarget.select()} /></label>}
    </form>
  )
}

function left (torrent: TorrentView): number {
  return Math.max(0, (torrent.wantedLength ?? 0) - torrent.wantedVerified)
}

function TorrentTable ({ api, torrents, selected, onSelect, onChanged }: { api: Api, torrents: readonly TorrentView[], selected: string | null, onSelect: (id: string) => void, onChanged: () => void }) {
  const action = useAction()
  const act = (work: () => Promise<unknown>): void => { void action.run(work).then(onChanged) }
  const sum = (pick: (torrent: TorrentView) => number): number => torrents.reduce((total, torrent) => total + pick(torrent), 0)
  return (
    <section>
      {action.error && <p class="error" role="alert">{action.error}</p>}
      <table class="torrents">
        <thead><tr><th>Name</th><th>State</th><th>Progress</th><th>Size</th><th>Down</th><th>Up</th><th>ETA</th><th>Peers</th><th></th></tr></thead>
        <tbody>
          {torrents.map((torrent) => (
            <tr key={torrent.infoHash} data-infohash={torrent.infoHash} class={selected === torrent.infoHash ? 'selected' : ''}>
              <td><a href="#" onClick={(event) => { event.preventDefault(); onSelect(torrent.infoHash) }}>{torrent.name}</a></td>
              <td class="state">{torrent.state}{torrent.error ? `: ${torrent.error}` : ''}</td>
              <td><Progress fraction={torrent.progress} /></td>
              <td>{torrent.wantedLength === null ? '—' : bytes(torrent.wantedLength)}</td>
              <td>{rate(torrent.downloadRate)}</td>
              <td>{rate(torrent.uploadRate)}</td>
              <td>{eta(left(torrent), torrent.downloadRate)}</td>
              <td>{torrent.peers} ({torrent.seeds} seeds)</td>
              <td class="actions">
                {torrent.state === 'paused'
                  ? <button onClick={() => act(() => api.resume(torrent.infoHash))}>Resume</button>
                  : <button onClick={() => act(() => api.pause(torrent.infoHash))}>Pause</button>}
                <button onClick={() => { if (confirm(`Remove ${torrent.name}? Its data stays on disk.`)) act(() => api.remove(torrent.infoHash, false)) }}>Remove</button>
              </td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr><td>{torrents.length} torrents</td><td></td><td></td><td>{bytes(sum((torrent) => torrent.wantedLength ?? 0))}</td>
            <td>{rate(sum((torrent) => torrent.downloadRate))}</td><td>{rate(sum((torrent) => torrent.uploadRate))}</td><td></td>
            <td>{sum((torrent) => torrent.peers)}</td><td></td></tr>
        </tfoot>
      </table>
    </section>
  )
}
