import { useEffect, useRef, useState } from 'preact/hooks'

export interface Polled<T> {
  readonly data: T | undefined
  readonly error: string | null
  /** Ask again now (after an action), without waiting for the next tick. */
  readonly refresh: () => void
}

/** Calls `load` now and every `intervalMs` while the component is shown; one call at a time. */
export function usePoll<T> (load: () => Promise<T>, intervalMs: number, keys: readonly unknown[] = []): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<string | null>(null)
  const [tick, setTick] = useState(0)
  const latest = useRef(load)
  latest.current = load
  useEffect(() => {
    let stopped = false
    let timer: number | undefined
    const run = async (): Promise<void> => {
      try {
        const value = await latest.current()
        if (stopped) return
        setData(value)
        setError(null)
      } catch (err) {
        if (!stopped) setError(err instanceof Error ? err.message : String(err))
      }
      if (!stopped) timer = window.setTimeout(() => { void run() }, intervalMs)
    }
    void run()
    return () => {
      stopped = true
      window.clearTimeout(timer)
    }
  }, [intervalMs, tick, ...keys])
  return { data, error, refresh: () => setTick((n) => n + 1) }
}

/** Runs an action, turning its failure into a message for the user. */
export function useAction (): { busy: boolean, error: string | null, run: (action: () => Promise<unknown>) => Promise<boolean> } {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const run = async (action: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true)
    setError(null)
    try {
      await action()
      return true
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
      return false
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, run }
}
