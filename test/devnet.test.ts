import { spawn, type ChildProcess } from 'node:child_process'
import { JsonRpcProvider } from 'ethers'
import t from 'tap'
import { evmAddressOf } from '../src/money/address.js'
import type { DemoSummary } from '../src/dev/demo.js'
import { tempDir } from '../testkit/daemon.js'
import { BIN, BIN_NODE_FLAGS, runCli, stopProcess, waitFor, type Cleanup } from '../testkit/process.js'

t.test('`bidtorrent devnet` then `bidtorrent demo --chain devnet`: real deposits and claims, claimed = paid for every bidder', async (t) => {
  const dir = await tempDir(t, 'bidtorrent-devnet-')
  const devnet = await startDevnetCli(t, dir)
  const ready = devnet.ready
  t.equal(ready.ready, true)
  t.match(ready.channelContract, /^0x[0-9a-fA-F]{40}$/, 'the channel contract is deployed')

  const run = await runCli(['demo', '--chain', 'devnet', '--data-dir', dir, '--size', '4MiB', '--upload-limit', '4MiB/s', '--json'])
  t.equal(run.code, 0, run.stderr)
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as DemoSummary & { type: string }
  t.equal(summary.type, 'summary')
  t.ok(summary.chain, 'the summary reports the chain')
  t.same(Object.values(summary.paymentErrors), ['0', '0', '0'], 'each bidder paid exactly for what it verified')
  for (const channel of summary.chain!.channels) {
    const party = summary.chain!.parties.find((entry) => entry.address === evmAddressOf(channel.payer))!
    const peer = summary.peers.find((entry) => entry.name === party.name)!
    t.equal(channel.claimed, peer.paid, `${peer.name}: the seeder claimed on chain exactly what it paid (${peer.paid})`)
    // A bidder that got every piece from the others before its deposit was mined pays nothing, which
    // a 4 MiB demo on a busy machine can see: what it paid is within what it deposited.
    t.ok(BigInt(channel.deposited) >= BigInt(peer.paid), `${peer.name} deposited ${channel.deposited}, at least what it paid`)
  }
  t.ok(summary.chain!.channels.some((channel) => BigInt(channel.deposited) > 0n && BigInt(channel.claimed) > 0n), 'bidders funded channels, and the seeder claimed from them')
  const seeder = summary.chain!.parties.find((entry) => entry.name === 'seeder')!
  t.ok(BigInt(seeder.after) > BigInt(seeder.before) - 10n ** 16n, 'the seeder\'s balance carries its claims (less gas)')
  await stopProcess(devnet.child)
  t.same([devnet.child.exitCode, devnet.child.signalCode], [0, null], 'the devnet stops on SIGTERM, cleanly (not killed)')

  const again = await startDevnetCli(t, dir)
  t.equal(again.ready.resumed, true, 'started again in the same folder, the devnet resumes from its saved state')
  t.equal(again.ready.channelContract, ready.channelContract, 'with the same contract')
  const provider = new JsonRpcProvider(`http://127.0.0.1:${new URL(again.ready.rpcUrl).port}`, again.ready.chainId, { staticNetwork: true })
  t.teardown(() => provider.destroy())
  for (const party of summary.chain!.parties) {
    t.equal((await provider.getBalance(party.address)).toString(), party.after, `${party.name}: the balance after the demo survived the restart`)
  }
  await stopProcess(again.child)
})

interface DevnetReady { ready: boolean, resumed: boolean, rpcUrl: string, chainId: number, channelContract: string, config: string }

async function startDevnetCli (t: Cleanup, dir: string): Promise<{ child: ChildProcess, ready: DevnetReady }> {
  const child = spawn(process.execPath, [...BIN_NODE_FLAGS, BIN, 'devnet', '--data-dir', dir, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => stopProcess(child))
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const ready = await waitFor('the devnet to say ready', () => {
    if (child.exitCode !== null) throw new Error(`devnet exited: ${output}`)
    const line = output.split('\n').find((entry) => entry.includes('"ready"'))
    return line ? JSON.parse(line) as DevnetReady : undefined
  }, 120_000)
  return { child, ready }
}
