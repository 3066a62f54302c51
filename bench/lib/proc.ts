import { readFile } from 'node:fs/promises'
import { rssAnonBytes } from '../../testkit/process.js'

const CLOCK_TICKS_PER_SECOND = 100

/** CPU seconds (user + system, all threads) a process has used so far. */
export async function cpuSeconds (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // The command name may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

export { rssAnonBytes }

/** Samples processes' anonymous memory every `intervalMs` and keeps each one's peak. */
export class MemorySampler {
  private readonly peaks = new Map<number, number>()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly pids: readonly number[], private readonly intervalMs = 100) {}

  start (): this {
    const sample = (): void => {
      for (const pid of this.pids) {
        rssAnonBytes(pid).then((bytes) => this.record(pid, bytes), () => {})
      }
    }
    sample()
    this.timer = setInterval(sample, this.intervalMs)
    return this
  }

  record (pid: number, bytes: number): void {
    if (bytes > (this.peaks.get(pid) ?? 0)) this.peaks.set(pid, bytes)
  }

  stop (): Map<number, number> {
    clearInterval(this.timer)
    return this.peaks
  }
}

export function median (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
