import { render } from 'preact'
import { useState } from 'preact/hooks'
import { Api, ApiError, forgetToken, savedToken } from './api.js'
import { Dashboard } from './dashboard.js'

function Login ({ onLogin }: { onLogin: (api: Api) => void }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(null)
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault()
    setError(null)
    try {
      onLogin(await Api.login(token))
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
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  )
}

function App () {
  const [api, setApi] = useState<Api | null>(() => {
    const token = savedToken()
    return token ? new Api(token) : null
  })
  if (!api) return <Login onLogin={setApi} />
  return <Dashboard api={api} onLogout={() => { forgetToken(); setApi(null) }} />
}

render(<App />, document.getElementById('app')!)
