import { createServer, connect, type Server, type Socket } from 'node:net'
import { Interface, JsonRpcProvider, Wallet, type Contract, type ContractTransactionResponse } from 'ethers'
import { accountBytes, tronAddressOf } from '../src/money/address.js'
import type { VoucherDomain } from '../src/money/voucher.js'
import { artifact, deployContract } from '../src/settlement/contracts/artifacts.js'
import { startLocalChain, type LocalChain } from '../src/dev/local-chain.js'
import { tempDir } from './daemon.js'
import type { Cleanup } from './process.js'

export const CHAIN_ID = 1999
export const CHALLENGE_SECONDS = 3600

export interface Parties {
  chain: LocalChain
  provider: JsonRpcProvider
  deployer: Wallet
  payer: Wallet
  payee: Wallet
  relayer: Wallet
  stranger: Wallet
  channels: Contract
  token: Contract
  domain: VoucherDomain
}

export const hex = (bytes: Uint8Array): string => `0x${Buffer.from(bytes).toString('hex')}`
export const tron = (evm: string): string => tronAddressOf(accountBytes(evm))

export const errors = new Interface(artifact('BidtorrentChannels').abi)

/** The name of the contract's custom error a call reverted with ('' if it did not revert). */
export async function revertOf (call: Promise<unknown>): Promise<string> {
  try {
    const sent = await call
    if (sent && typeof (sent as ContractTransactionResponse).wait === 'function') await (sent as ContractTransactionResponse).wait()
    return ''
  } catch (err) {
    const data = (err as { data?: string }).data
    const parsed = data ? errors.parseError(data) : null
    if (parsed) return parsed.name
    throw err
  }
}

export async function mined (call: Promise<ContractTransactionResponse>): Promise<void> {
  await (await call).wait()
}

/** A local chain with the contracts deployed and five funded parties; `persist`: the chain can be restarted (restartChain). */
export async function setup (t: Cleanup, options: { persist?: boolean } = {}): Promise<Parties> {
  const chain = await startLocalChain({ directory: await tempDir(t, 'bidtorrent-chain-'), chainId: CHAIN_ID, persist: options.persist ?? false })
  // Stops whichever node is running at the end: restartChain replaces parties.chain.
  const parties = { chain } as Parties
  t.teardown(() => parties.chain.stop())
  // No request cache: every nonce is read fresh (a reverted call must not leave a gap or a stale count).
  const provider = new JsonRpcProvider(chain.rpcUrl, CHAIN_ID, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 })
  t.teardown(() => provider.destroy())
  const [a0, a1, a2, a3, a4] = chain.accounts
  const deployer = new Wallet(a0!.privateKey, provider)
  const payer = new Wallet(a1!.privateKey, provider)
  const payee = new Wallet(a2!.privateKey, provider)
  const relayer = new Wallet(a3!.privateKey, provider)
  const stranger = new Wallet(a4!.privateKey, provider)
  const channels = await deployContract('BidtorrentChannels', deployer, CHALLENGE_SECONDS)
  const token = await deployContract('TestToken', deployer)
  return Object.assign(parties, { provider, deployer, payer, payee, relayer, stranger, channels, token, domain: { chainId: CHAIN_ID, verifyingContract: await channels.getAddress() } })
}

/** Stops the chain's node (it writes its state) and starts it again from that state, on the same port. */
export async function restartChain (p: Parties): Promise<void> {
  await p.chain.stop()
  p.chain = await startLocalChain({ directory: p.chain.directory, chainId: CHAIN_ID, port: p.chain.port, persist: true })
}

export async function now (provider: JsonRpcProvider): Promise<number> {
  return (await provider.getBlock('latest'))!.timestamp
}

export async function travel (provider: JsonRpcProvider, seconds: number): Promise<void> {
  await provider.send('evm_increaseTime', [seconds])
  await provider.send('evm_mine', [])
}


/**
 * A TCP relay in front of the chain's endpoint that the test can cut (connections refused: a dead
 * endpoint), stall (connections taken and never answered: a hung one) and restore.
 */
export async function relayTo (port: number, t: Cleanup): Promise<{ port: number, cut: () => void, stall: () => void, restore: () => void }> {
  let mode: 'open' | 'cut' | 'stall' = 'open'
  const sockets = new Set<Socket>()
  const dropAll = (): void => { for (const socket of sockets) socket.destroy() }
  const server: Server = createServer((socket) => {
    if (mode === 'cut') return socket.destroy()
    sockets.add(socket)
    socket.on('error', () => socket.destroy()).on('close', () => sockets.delete(socket))
    if (mode === 'stall') return
    const upstream = connect(port, '127.0.0.1')
    sockets.add(upstream)
    socket.pipe(upstream).pipe(socket)
    const close = (): void => { socket.destroy(); upstream.destroy(); sockets.delete(upstream) }
    socket.on('close', close)
    upstream.on('error', close).on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { dropAll(); server.close(() => resolve()) }))
  return {
    port: (server.address() as { port: number }).port,
    cut: () => { mode = 'cut'; dropAll() },
    stall: () => { mode = 'stall'; dropAll() },
    restore: () => { mode = 'open'; dropAll() }
  }
}
