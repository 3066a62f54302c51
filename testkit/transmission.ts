import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { NamespaceLink } from './netns.js'
import { run, stopProcess, waitFor, type Cleanup, type Finished } from './process.js'

/** transmission-daemon at its defaults (uTP on, encryption preferred, DHT and PEX on), in a namespace of its own. */
export interface Transmission {
  /** Its peer port (the default, 51413: the namespace is its own). */
  readonly peerPort: number
  remote (args: readonly string[]): Promise<Finished>
  /** Percent done of its only torrent, from `transmission-remote -t 1 -i`. */
  percentDone (): Promise<number>
  logs (): string
}

const RPC = '127.0.0.1:9091'

export async function startTransmission (t: Cleanup, link: NamespaceLink, dir: string): Promise<Transmission> {
  const config = join(dir, 'config')
  await mkdir(config, { recursive: true })
  // Only what a headless run needs: where its settings and downloads go. Everything else is its default.
  const daemon = link.exec('transmission-daemon', ['--foreground', '--config-dir', config, '--download-dir', join(dir, 'downloads'), '--log-info'])
  const child = spawn(daemon.command, daemon.args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(() => stopProcess(child))
  const remote = async (args: readonly string[]): Promise<Finished> => {
    const command = link.exec('transmission-remote', [RPC, ...args])
    return await run(command.command, command.args)
  }
  await waitFor('transmission-daemon to answer its RPC', async () => {
    if (child.exitCode !== null) throw new Error(`transmission-daemon exited: ${output}`)
    return (await remote(['--list'])).code === 0 ? true : undefined
  }, 60_000, 300)
  return {
    peerPort: 51413,
    remote,
    percentDone: async () => {
      const info = await remote(['--torrent', '1', '--info'])
      const match = /Percent Done:\s*([\d.]+)%/.exec(info.stdout)
      return match ? Number(match[1]) : 0
    },
    logs: () => output
  }
}
