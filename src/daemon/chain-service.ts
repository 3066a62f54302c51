import type { ChainWallet, ChannelView, WalletBalance } from '../settlement/chain-wallet.js'
import { UsageError } from '../util/errors.js'
import type { ChannelClosed, Withdrawal } from './api-types.js'
import type { OpenChannelRequest, TopUpRequest, WithdrawRequest } from './api-schemas.js'
import { marketOffError } from './market-off.js'

/** The chain wallet through the control API: balances and channels, with the daemon's unlocked key. */
export class ChainService {
  constructor (
    /** Absent off a chain backend, or with the market off. */
    private readonly chainWallet: ChainWallet | undefined,
    /** The settlement backend; undefined: the market is off. */
    private readonly backend: string | undefined,
    private readonly channelLifetimeSeconds = 7 * 86_400
  ) {}

  private chain (): ChainWallet {
    if (this.chainWallet) return this.chainWallet
    if (this.backend === undefined) throw marketOffError()
    throw new UsageError(`this daemon settles with ${this.backend}: no chain wallet (settings settlement, chainRpcUrl, channelContract)`)
  }

  async walletBalance (): Promise<WalletBalance> {
    return this.chain().balance()
  }

  async channels (): Promise<ChannelView[]> {
    return this.chain().channels()
  }

  async openChannel (body: OpenChannelRequest): Promise<ChannelView> {
    return this.chain().open(body.payee, body.infoHash, body.deposit, this.channelLifetimeSeconds)
  }

  async topUpChannel (id: string, body: TopUpRequest): Promise<ChannelView> {
    return this.chain().topUp(id, body.amount, this.channelLifetimeSeconds)
  }

  async closeChannel (id: string): Promise<ChannelClosed> {
    return this.chain().close(id)
  }

  async withdraw (body: WithdrawRequest): Promise<Withdrawal> {
    return this.chain().withdraw(body.to, body.amount, body.native ?? false)
  }
}
