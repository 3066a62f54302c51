import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { seedFile, startDaemon, tempDir, waitComplete, type RunningDaemon } from '../testkit/daemon.js'
import { runCli, waitFor } from '../testkit/process.js'

const MiB = 1024 * 1024

/** The daemon's JSON log lines with this message. */
function logLines (daemon: RunningDaemon, message: string): Array<Record<string, unknown>> {
  return daemon.logs().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.message === message)
}

t.test('onComplete runs when a download finishes, with the torrent in its environment; not for a torrent found complete at start; a failure is logged', async (t) => {
  const seeder = await startDaemon(t)
  const first = await seedFile(t, seeder, 'first.bin', 2 * MiB)
  const second = await seedFile(t, seeder, 'second.bin', 2 * MiB)
  const markers = await tempDir(t, 'bidtorrent-markers-')
  const command = 'printf "%s\\n%s\\n%s\\n%s\\n%s\\n" "$BIDTORRENT_TORRENT_ID" "$BIDTORRENT_TORRENT_NAME" "$BIDTORRENT_TORRENT_DIR" "$BIDTORRENT_TORRENT_PATH" "$TR_TORRENT_HASH" > "$MARKERS/$BIDTORRENT_TORRENT_NAME"; [ "$BIDTORRENT_TORRENT_NAME" != second.bin ] || { echo "no room for it" >&2; exit 3; }'
  const env = { BIDTORRENT_ON_COMPLETE: command, MARKERS: markers }
  const leecher = await startDaemon(t, { env })
  const out = join(first.work, 'out')
  const added = await runCli(['add', first.torrentFile, '--out', out, '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', leecher.dataDir])
  t.equal(added.code, 0, added.stderr)
  await waitComplete(leecher, first.torrent.infoHash)
  const told = await waitFor('the command\'s marker', async () => readFile(join(markers, 'first.bin'), 'utf8').catch(() => undefined), 60_000)
  t.same(told.trim().split('\n'), [first.torrent.infoHash, 'first.bin', out, join(out, 'first.bin'), first.torrent.infoHash], 'id, name, folder, path, and Transmission\'s TR_TORRENT_HASH')
  await waitFor('its log line', async () => (logLines(leecher, 'the onComplete command ran').length === 1 ? true : undefined), 30_000)

  // After a restart the first torrent is found complete: nothing was downloaded, nothing runs.
  await leecher.stop()
  const restarted = await startDaemon(t, { dataDir: leecher.dataDir, env })
  await waitComplete(restarted, first.torrent.infoHash)
  const addedSecond = await runCli(['add', second.torrentFile, '--out', out, '--peer', `127.0.0.1:${seeder.peerPort}`, '--data-dir', restarted.dataDir])
  t.equal(addedSecond.code, 0, addedSecond.stderr)
  await waitComplete(restarted, second.torrent.infoHash)
  const failed = await waitFor('the failure logged', async () => logLines(restarted, 'the onComplete command failed')[0], 60_000)
  t.match(failed, { infoHash: second.torrent.infoHash, exitCode: 3, output: 'no room for it' }, 'a failing command is logged with its exit status and what it said')
  t.same(logLines(restarted, 'the onComplete command ran'), [], 'no run for the torrent found complete at start')
})
