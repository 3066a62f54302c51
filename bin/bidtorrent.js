#!/usr/bin/env -S node --max-semi-space-size=4 --expose-gc
// --max-semi-space-size caps the young generation at 4 MiB a semi-space: V8 otherwise grows it to 16 MiB
// under a transfer's allocation rate, ~17 MB of a leecher's memory for no measurable speed.
// --expose-gc lets the daemon collect once when it turns idle after work (src/daemon/idle-collector.ts).
const [major] = process.versions.node.split('.').map(Number)
if (major < 22) {
  process.stderr.write(`bidtorrent: error: needs Node.js 22 or newer (this is ${process.version}); run it through "npm start" or "npx bidtorrent", which use the Node 22 that "npm ci" installs\n`)
  process.exit(1)
}
let cli
try {
  cli = await import('../dist/src/cli/main.js')
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    process.stderr.write('bidtorrent: error: not built yet; run "npm ci" (or "npm run build") in the project folder\n')
    process.exit(1)
  }
  throw err
}
process.exitCode = await cli.main(process.argv)
