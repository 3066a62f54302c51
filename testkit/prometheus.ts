import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort } from '../src/util/ports.js'
import { stopProcess, waitFor, type Cleanup } from './process.js'

export interface Prometheus {
  /** An instant query through Prometheus's HTTP API: each series' labels and value. */
  query (expression: string): Promise<Array<{ metric: Record<string, string>, value: number }>>
  output (): string
}

export interface ScrapeTarget {
  /** host:port of the control API. */
  readonly address: string
  /** The daemon's api.token: the scrape's bearer credentials, read afresh at each scrape. */
  readonly credentialsFile: string
  readonly job: string
}

/**
 * Debian's Prometheus server scraping the daemons every second, with the bearer token from the
 * daemon's api.token, as the README's scrape config does.
 */
export async function startPrometheus (t: Cleanup, dir: string, targets: readonly ScrapeTarget[]): Promise<Prometheus> {
  const jobs: string[] = []
  for (const target of targets) {
    jobs.push([
      `  - job_name: ${target.job}`,
      '    scrape_interval: 1s',
      '    authorization:',
      '      type: Bearer',
      `      credentials_file: ${target.credentialsFile}`,
      '    static_configs:',
      `      - targets: ['${target.address}']`
    ].join('\n'))
  }
  const config = join(dir, 'prometheus.yml')
  await writeFile(config, `global:\n  scrape_interval: 1s\nscrape_configs:\n${jobs.join('\n')}\n`)
  const port = await freePort()
  const child = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(() => stopProcess(child))
  const base = `http://127.0.0.1:${port}`
  await waitFor('Prometheus to be ready', async () => {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${output}`)
    const response = await fetch(`${base}/-/ready`).catch(() => undefined)
    return response?.ok === true ? true : undefined
  }, 60_000)
  return {
    output: () => output,
    async query (expression) {
      const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expression)}`)
      const body = await response.json() as { status: string, error?: string, data?: { result: Array<{ metric: Record<string, string>, value: [number, string] }> } }
      if (body.status !== 'success') throw new Error(`Prometheus query ${expression}: ${body.error ?? response.status}`)
      return (body.data?.result ?? []).map((series) => ({ metric: series.metric, value: Number(series.value[1]) }))
    }
  }
}
