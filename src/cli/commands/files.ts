import type { Command } from 'commander'
import { fileLines } from '../format.js'
import { fileOptions, fileSelectionOf, type FileFlags } from '../file-flags.js'
import { client, common, print, type CommonOptions } from '../options.js'

/** `files`: a torrent's files with their priority and progress; with options, which to download. */
export function addFilesCommand (program: Command): void {
  fileOptions(common(program.command('files <id>')))
    .description('show a torrent\'s files (number, priority, progress), or choose which to download with --only, --skip, --priority')
    .action(async (id: string, options: CommonOptions & FileFlags) => {
      const api = await client(options)
      const selection = fileSelectionOf(options)
      const torrent = selection ? await api.files(id, selection) : await api.torrent(id)
      print(options, torrent.files, () => (torrent.files.length ? fileLines(torrent).join('\n') : `${torrent.name}: its files are known once its metadata arrives`))
    })
}
