import type { Command } from 'commander'
import type { SwarmHealthView } from '../../api/types.js'
import { readableBtt } from '../../money/price.js'
import { formatBytes } from '../../util/units.js'
import { percent } from '../format.js'
import { client, common, print, type CommonOptions } from '../options.js'

function healthLines (health: SwarmHealthView): string[] {
  const copies = health.distributedCopies === null ? 'unknown until the metadata arrives' : `${health.distributedCopies.toFixed(2)} distributed, ${health.rarestPieceCopies} of the rarest piece (connected peers and us)`
  const total = health.downloadedFromPeers + health.downloadedFromWebSeeds
  return [
    `name:         ${health.name} (${health.state})`,
    `swarm:        ${health.seeds} seeds, ${health.peers - health.seeds} other peers connected; ${health.knownPeers} known`,
    `copies:       ${copies}`,
    `completions:  ${health.completions} this run, ${health.completionsLastHour} in the last hour${health.firstFullCopySeconds === null ? '' : `; the first ${health.firstFullCopySeconds.toFixed(0)} s after the start`}`,
    ...(total > 0 ? [`downloaded:   ${formatBytes(health.downloadedFromPeers)} from peers, ${formatBytes(health.downloadedFromWebSeeds)} from web seeds (offload ${percent(health.offloadRatio ?? 0)})`] : []),
    ...(health.earnedThisRun === null ? [] : [`earned:       ${readableBtt(BigInt(health.earnedThisRun))} this run, ${readableBtt(BigInt(health.earnedPerHour ?? '0'))} per hour`])
  ]
}

/** `health`: how a torrent's swarm is doing, as a studio watches a launch. */
export function addHealthCommand (program: Command): void {
  common(program.command('health <id>'))
    .description('show a torrent\'s swarm health: seeds and peers, distributed copies, copies of the rarest piece, completions, offload from web seeds, earnings')
    .action(async (id: string, options: CommonOptions) => {
      const health = await (await client(options)).health(id)
      print(options, health, () => healthLines(health).join('\n'))
    })
}
