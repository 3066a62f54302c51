import type { Logger } from 'winston'
import type { Settings } from '../config/settings.js'
import { addressOfPrivateKey } from '../market/address.js'
import type { StateStore } from '../daemon/store.js'
import { ConfigError } from '../util/errors.js'
import type { ChannelChain } from './evm/chain-client.js'
import type { ChainWallet } from './evm/chain-wallet.js'
import type { Settlement } from './settlement.js'

/** What the settings choose: the embedded ledger, or the channel contract on an EVM chain. */
export async function settlementFrom (settings: Settings, store: StateStore, wallet: { tron: string, privateKey: string }, log: Logger): Promise<{ settlement: Settlement, chainWallet?: ChainWallet }> {
  if (settings.settlement === 'embedded') {
    const { EmbeddedSettlement } = await import('./embedded.js')
    return { settlement: new EmbeddedSettlement(store, settings.embeddedCreditCap, settings.embeddedChainId) }
  }
  if (settings.settlement === 'tron') return tronSettlement(settings, store, wallet, log)
  if (!settings.chainRpcUrl || !settings.channelContract) {
    throw new ConfigError('settlement "evm" needs chainRpcUrl and channelContract (and, to pin the chain, chainId)')
  }
  if (!settings.channelContract.startsWith('0x')) throw new ConfigError('settlement "evm" needs channelContract as a 0x address (T… addresses are for "tron")')
  const [{ EvmChannelChain }, { ChainWallet }] = await Promise.all([import('./evm/chain-client.js'), import('./evm/chain-wallet.js')])
  const chainId = settings.chainId ?? await chainIdOf(settings.chainRpcUrl)
  const chain = new EvmChannelChain(settings.chainRpcUrl, chainId, settings.channelContract, wallet.privateKey, settings.channelToken)
  return { settlement: await chainSettlement('evm', chain, settings, store, wallet, log), chainWallet: new ChainWallet(chain, store, wallet.tron) }
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

/** TRON: claims through a full node; with none configured, the backend says so and settles nothing. */
async function tronSettlement (settings: Settings, store: StateStore, wallet: { privateKey: string }, log: Logger): Promise<{ settlement: Settlement }> {
  if (!settings.channelContract) throw new ConfigError('settlement "tron" needs channelContract (the contract\'s T… address)')
  const { TronChannelChain, TRON_MAINNET_CHAIN_ID } = await import('./tron/tron-chain.js')
  const chain = new TronChannelChain(settings.chainRpcUrl, settings.chainId ?? TRON_MAINNET_CHAIN_ID, settings.channelContract, wallet.privateKey)
  if (!settings.chainRpcUrl) log.warn('settlement "tron" without a full node (chainRpcUrl): vouchers are stored, nothing is settled')
  return { settlement: await chainSettlement('tron', chain, settings, store, wallet, log) }
}

/** The settlement logic shared by the chain backends, over one chain link and the durable claim queue. */
async function chainSettlement (backend: 'evm' | 'tron', chain: ChannelChain, settings: Settings, store: StateStore, wallet: { privateKey: string }, log: Logger): Promise<Settlement> {
  const [{ ChainSettlement }, { ClaimQueue }] = await Promise.all([import('./chain-settlement.js'), import('./claims.js')])
  return new ChainSettlement(backend, chain, new ClaimQueue(store.claims, chain), {
    minClaim: settings.minClaim,
    safetySeconds: settings.claimSafetySeconds,
    account: addressOfPrivateKey(wallet.privateKey),
    channelLifetimeSeconds: settings.channelLifetimeSeconds
  }, log)
}
