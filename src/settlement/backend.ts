import type { Logger } from 'winston'
import type { Settings } from '../config/settings.js'
import type { StateStore } from '../daemon/store.js'
import { ConfigError } from '../util/errors.js'
import type { ChainWallet } from './evm/chain-wallet.js'
import type { Settlement } from './settlement.js'

/** What the settings choose: the embedded ledger, or the channel contract on an EVM chain. */
export async function settlementFrom (settings: Settings, store: StateStore, wallet: { tron: string, privateKey: string }, log: Logger): Promise<{ settlement: Settlement, chainWallet?: ChainWallet }> {
  if (settings.settlement === 'embedded') {
    const { EmbeddedSettlement } = await import('./embedded.js')
    return { settlement: new EmbeddedSettlement(store, settings.embeddedCreditCap, settings.embeddedChainId) }
  }
  if (!settings.chainRpcUrl || !settings.channelContract) {
    throw new ConfigError('settlement "evm" needs chainRpcUrl and channelContract (and, to pin the chain, chainId)')
  }
  const [{ EvmChannelChain }, { EvmSettlement }, { ClaimQueue }, { ChainWallet }] = await Promise.all([
    import('./evm/chain-client.js'), import('./evm/evm-settlement.js'), import('./claims.js'), import('./evm/chain-wallet.js')
  ])
  const chainId = settings.chainId ?? await chainIdOf(settings.chainRpcUrl)
  const chain = new EvmChannelChain(settings.chainRpcUrl, chainId, settings.channelContract, wallet.privateKey)
  const settlement = new EvmSettlement(chain, new ClaimQueue(store.claims, chain), {
    minClaim: settings.minClaim,
    safetySeconds: settings.claimSafetySeconds,
    account: chain.address,
    channelLifetimeSeconds: settings.channelLifetimeSeconds
  }, log)
  return { settlement, chainWallet: new ChainWallet(chain, store, wallet.tron) }
}

/** Asks an endpoint for its chain id once (eth_chainId), within 10 s. */
async function chainIdOf (rpcUrl: string): Promise<number> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(10_000)
    })
    const body = await response.json() as { result?: string }
    if (typeof body.result !== 'string') throw new Error('no chain id in the answer')
    return Number(BigInt(body.result))
  } catch (err) {
    // Unpinned and unreachable: a configuration problem, said plainly.
    throw new ConfigError(`cannot read the chain id from ${rpcUrl} (set chainId to start without it): ${(err as Error).message}`)
  }
}
