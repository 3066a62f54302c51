import type { Logger } from 'winston'
import type { MoneyInBtt } from '../config/money.js'
import type { Settings } from '../config/settings.js'
import { addressOfPrivateKey, evmAddressOf } from '../money/address.js'
import { ConfigError } from '../util/errors.js'
import type { WalletChain } from './chain.js'
import type { ChainWallet } from './chain-wallet.js'
import type { Settlement } from './settlement.js'
import type { SettlementStore } from './voucher-store.js'

/** What the settings choose: the embedded ledger, or the channel contract on an EVM chain or on TRON. */
export async function settlementFrom (settings: Settings, money: MoneyInBtt, store: SettlementStore, wallet: { tron: string, privateKey: string }, log: Logger): Promise<{ settlement: Settlement, chainWallet?: ChainWallet }> {
  if (settings.settlement === 'embedded') {
    const { EmbeddedSettlement } = await import('./embedded.js')
    return { settlement: new EmbeddedSettlement(store, money.embeddedCreditCap, settings.embeddedChainId) }
  }
  if (settings.settlement === 'tron') return tronSettlement(settings, money, store, wallet, log)
  if (!settings.chainRpcUrl || !settings.channelContract) {
    throw new ConfigError('settlement "evm" needs chainRpcUrl and channelContract (and, to pin the chain, chainId)')
  }
  if (!settings.channelContract.startsWith('0x')) throw new ConfigError('settlement "evm" needs channelContract as a 0x address (T… addresses are for "tron")')
  const { EvmChannelChain } = await import('./evm/chain-client.js')
  const chainId = settings.chainId ?? await chainIdOf(settings.chainRpcUrl)
  const chain = new EvmChannelChain(settings.chainRpcUrl, chainId, settings.channelContract, wallet.privateKey, settings.channelToken ? evmAddressOf(settings.channelToken) : null)
  return chainBackend('evm', chain, settings, money, store, wallet, log)
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

/** TRON: BTT as a TRC-20 (channelToken) through a full node; with none configured, the backend says so and settles nothing. */
async function tronSettlement (settings: Settings, money: MoneyInBtt, store: SettlementStore, wallet: { tron: string, privateKey: string }, log: Logger): Promise<{ settlement: Settlement, chainWallet: ChainWallet }> {
  if (!settings.channelContract) throw new ConfigError('settlement "tron" needs channelContract (the contract\'s T… address)')
  const { TronChannelChain, TRON_MAINNET_CHAIN_ID, BTT_TRC20 } = await import('./tron/tron-chain.js')
  const chainId = settings.chainId ?? TRON_MAINNET_CHAIN_ID
  // On TRON's main network BTT is a TRC-20 token: channels are funded with it unless told otherwise.
  const token = settings.channelToken ?? (chainId === TRON_MAINNET_CHAIN_ID ? BTT_TRC20 : null)
  const chain = new TronChannelChain(settings.chainRpcUrl, chainId, settings.channelContract, wallet.privateKey, token)
  if (!settings.chainRpcUrl) log.warn('settlement "tron" without a full node (chainRpcUrl): vouchers are stored, nothing is settled')
  return chainBackend('tron', chain, settings, money, store, wallet, log)
}

/** The settlement logic shared by the chain backends (over one chain link and the durable claim queue), and the wallet's commands. */
async function chainBackend (backend: 'evm' | 'tron', chain: WalletChain, settings: Settings, money: MoneyInBtt, store: SettlementStore, wallet: { tron: string, privateKey: string }, log: Logger): Promise<{ settlement: Settlement, chainWallet: ChainWallet }> {
  const [{ ChainSettlement }, { ClaimQueue }, { ChainWallet, recordFunding }] = await Promise.all([import('./chain-settlement.js'), import('./claims.js'), import('./chain-wallet.js')])
  const settlement = new ChainSettlement(backend, chain, new ClaimQueue(store.claims, chain), {
    minClaim: money.minClaim,
    claimFeeMultiple: settings.claimFeeMultiple,
    safetySeconds: settings.claimSafetySeconds,
    account: addressOfPrivateKey(wallet.privateKey),
    channelLifetimeSeconds: settings.channelLifetimeSeconds,
    recordFunding: async (payee, infoHash) => { await recordFunding(store, { wallet: wallet.tron, payee, infoHash, backend, chainId: chain.chainId }) }
  }, log)
  return { settlement, chainWallet: new ChainWallet(chain, store, wallet.tron, backend) }
}
