import type { Command } from 'commander'
import type { DaemonEvent, TorrentEventView } from '../../api/types.js'
import { client, common, wholeNumber, type CommonOptions } from '../options.js'

const FOLLOW_POLL_MS = 1000

interface EventsOptions extends CommonOptions {
  after: string
  follow?: boolean
}

/** `events`: what happened to the torrents, numbered by the daemon; `--follow` keeps printing new events. */
export function addEventsCommand (program: Command): void {
  common(program.command('events'))
    .description('show the torrents\' recent events (state changes, pieces verified, hash failures, bans); --follow for new ones')
    .option('--after <n>', 'only the events numbered above N', '0')
    .option('--follow', 'keep printing new events until interrupted (with --json, one JSON object a line)')
    .action(async (options: EventsOptions) => {
      let after = wholeNumber('--after', options.after, 0, Number.MAX_SAFE_INTEGER)
      const api = await client(options)
      const page = await api.events(after)
      if (options.json && !options.follow) {
        process.stdout.write(`${JSON.stringify(page, null, 2)}\n`)
        return
      }
      const show = (event: DaemonEvent): void => { process.stdout.write(`${options.json ? JSON.stringify(event) : eventLine(event)}\n`) }
      page.events.forEach(show)
      after = page.next
      while (options.follow) {
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS))
        const next = await api.events(after)
        next.events.forEach(show)
        after = next.next
      }
    })
}

function eventLine ({ seq, at, infoHash, event }: DaemonEvent): string {
  return `#${seq} ${at} ${infoHash.slice(0, 8)} ${event.type}${describe(event) ? ` ${describe(event)}` : ''}`
}

function describe (event: TorrentEventView): string {
  switch (event.type) {
    case 'state': return event.error ? `${event.state}: ${event.error}` : event.state
    case 'metadata': return `${event.name} (${event.length} bytes, ${event.pieceCount} pieces)`
    case 'peer-connected': return event.address
    case 'piece-verified': return `piece ${event.index} from ${event.senders.join(', ')}`
    case 'hash-failed': return `piece ${event.index}${event.badBlocks ? ` (bad blocks ${event.badBlocks.join(', ')})` : ''} from ${event.senders.join(', ')}`
    case 'peer-banned': return `${event.address}: ${event.reason}`
    case 'complete': return ''
    case 'seed-limit': return `${event.reason}: ${event.action === 'pause' ? 'paused' : 'removed (its data kept)'}`
  }
}
