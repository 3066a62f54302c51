import type { Command } from 'commander'
import type { FilesBody } from '../api/types.js'
import { UsageError } from '../util/errors.js'
import { collect } from './options.js'

export interface FileFlags {
  only?: string[]
  skip?: string[]
  priority?: string[]
}

const LEVELS = ['low', 'normal', 'high'] as const

/** The file selection options of `add` and `files`. */
export function fileOptions (command: Command): Command {
  return command
    .option('--only <files>', 'download only these files: numbers as `files` shows them (0,2 or 1-3) or a glob (\'*.mkv\'); repeatable', collect)
    .option('--skip <files>', 'do not download these files (numbers or a glob); repeatable', collect)
    .option('--priority <level=files>', 'fetch these files first or last: high=0,2 or low=\'*.txt\' (levels low, normal, high); repeatable', collect)
}

/** `0,2` or `1-3,7` are several selectors; a glob with braces (`*.{mkv,srt}`) is one. */
function selectors (value: string, flag: string): string[] {
  const parts = /[{}]/.test(value) ? [value] : value.split(',')
  const trimmed = parts.map((part) => part.trim())
  if (trimmed.some((part) => part === '')) throw new UsageError(`${flag} "${value}": an empty file selector (give file numbers like 0,2 or a glob like '*.mkv')`)
  return trimmed
}

/** What the flags ask for, as the API takes it, or undefined when no flag was given. */
export function fileSelectionOf (flags: FileFlags): FilesBody | undefined {
  const only = (flags.only ?? []).flatMap((value) => selectors(value, '--only'))
  const skip = (flags.skip ?? []).flatMap((value) => selectors(value, '--skip'))
  const priority: Partial<Record<typeof LEVELS[number], string[]>> = {}
  for (const value of flags.priority ?? []) {
    const match = /^([a-z]+)[=:](.*)$/.exec(value.trim())
    const level = LEVELS.find((one) => one === match?.[1])
    if (!match || !level) throw new UsageError(`--priority "${value}": give LEVEL=FILES with a level of ${LEVELS.join(', ')} (e.g. high=0,2); to skip files use --skip`)
    priority[level] = [...(priority[level] ?? []), ...selectors(match[2]!, `--priority ${level}`)]
  }
  if (only.length === 0 && skip.length === 0 && Object.keys(priority).length === 0) return undefined
  return { ...(only.length ? { only } : {}), ...(skip.length ? { skip } : {}), ...(Object.keys(priority).length ? { priority } : {}) }
}
