import { render } from 'preact'
import { useState } from 'preact/hooks'
import { Api, ApiError, forgetToken, savedToken } from './api.js'
import { Dashboard } from './dashboard.js'

function Login ({ onLogin, expired, notice }: { onLogin: (api: Api) => void, expired: () => void, notice: string | null }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(null)
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault()
    setError(null)
    try {
      onLogin(await Api.login(token, expired))
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That is not this daemon\'s API token.' : (err as Error).message)
    }
  }
  return (
    <form class="login" onSubmit={(event) => { void submit(event) }}>
      <h1>bidtorrent</h1>
      <label>API token
        <input name="token" type="password" autocomplete="off" value={token} onInput={(event) => setToken(event.currentTarget.value)} />
      </label>
      <p class="hint">The token is in <code>api.token</code> in the daemon's data directory.</p>
      <button type="submit">Log in</button>
      {notice && <p class="muted">{notice}</p>}
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  )
}

function App () {
  const [notice, setNotice] = useState<string | null>(null)
  const logOut = (why: string | null): void => {
    forgetToken()
    setNotice(why)
    setApi(null)
  }
  const expired = (): void => logOut('The daemon no longer takes that token (it makes a new one each time it starts): log in again.')
  const [api, setApi] = useState<Api | null>(() => {
    const token = savedToken()
    return token ? new Api(token, expired) : null
  })
  if (!api) return <Login onLogin={(next) => { setNotice(null); setApi(next) }} expired={expired} notice={notice} />
  return <Dashboard api={api} onLogout={() => logOut(null)} />
}

render(<App />, document.getElementById('app')!)
