import type { Command } from 'commander'
import type { OptionsBody } from '../api/types.js'
import { UsageError } from '../util/errors.js'
import { parseDuration } from '../util/units.js'
import { collect } from './options.js'

/** `add` and `set`'s flags for a torrent's labels and seed limits. */
export interface OptionFlags {
  label?: string[]
  seedRatio?: string
  seedIdle?: string
}

export function optionFlags (command: Command): Command {
  return command
    .option('--label <label>', 'a label for the torrent (repeatable; no commas)', collect)
    .option('--seed-ratio <ratio>', 'stop seeding once it uploaded RATIO times its size, e.g. 2; "none" for no limit, "global" for the daemon\'s seedRatioLimit')
    .option('--seed-idle <duration>', 'stop seeding once nothing moved for this long, e.g. 30m; "none" or "global" (the daemon\'s seedIdleLimit)')
}

/** The flags as the API takes them, checked here so a typo exits 2 (the daemon checks them again). */
export function optionsOf (flags: OptionFlags): OptionsBody {
  const choice = (flag: string, text: string | undefined, check: (text: string) => unknown): string | undefined => {
    if (text === undefined || text === 'none' || text === 'global') return text
    try {
      check(text)
    } catch {
      throw new UsageError(`${flag} "${text}": give a ${flag === '--seed-ratio' ? 'number such as 2' : 'duration such as 30m or 2h'}, "none" or "global"`)
    }
    return text
  }
  const ratio = choice('--seed-ratio', flags.seedRatio, (text) => { if (!/^\d+(\.\d+)?$/.test(text)) throw new Error('not a ratio') })
  const idle = choice('--seed-idle', flags.seedIdle, parseDuration)
  for (const label of flags.label ?? []) if (label.includes(',')) throw new UsageError(`--label "${label}": a label cannot hold a comma (give --label once per label)`)
  return {
    ...(flags.label !== undefined ? { labels: flags.label } : {}),
    ...(ratio !== undefined ? { seedRatio: /^\d/.test(ratio) ? Number(ratio) : ratio as 'none' | 'global' } : {}),
    ...(idle !== undefined ? { seedIdle: idle } : {})
  }
}
