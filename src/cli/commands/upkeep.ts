import { resolve } from 'node:path'
import type { Command } from 'commander'
import { client, common, print, type CommonOptions } from '../options.js'
import { waitForCheck } from '../progress.js'

/** `verify`, `reannounce`, `move`: a torrent's data checked again, its trackers asked again, its data moved. */
export function addUpkeepCommands (program: Command): void {
  common(program.command('verify <id>'))
    .description('check a torrent\'s data on disk again; pieces that no longer match are downloaded again')
    .option('--wait', 'show progress and return once the check is done')
    .action(async (id: string, options: CommonOptions & { wait?: boolean }) => {
      const api = await client(options)
      let torrent = await api.verify(id)
      if (options.wait) torrent = await waitForCheck(api, torrent.infoHash)
      print(options, torrent, () => options.wait
        ? `checked ${torrent.name}: ${torrent.verifiedPieces}/${torrent.pieceCount ?? 0} pieces verified`
        : `verifying ${torrent.name}`)
    })

  common(program.command('reannounce <id>'))
    .description('announce a torrent to its trackers now')
    .action(async (id: string, options: CommonOptions) => {
      const torrent = await (await client(options)).reannounce(id)
      print(options, torrent, () => `announced ${torrent.name}`)
    })

  common(program.command('move <id> <dir>'))
    .description('move a torrent\'s files to another folder (a rename, or a copy checked before the original goes)')
    .option('--check-only', 'move nothing: look for the data in <dir> and check what is there')
    .action(async (id: string, dir: string, options: CommonOptions & { checkOnly?: boolean }) => {
      const torrent = await (await client(options)).setLocation(id, { directory: resolve(dir), move: options.checkOnly !== true })
      print(options, torrent, () => `${options.checkOnly ? 'looking for' : 'moved'} ${torrent.name} in ${torrent.directory}`)
    })
}
