import t from 'tap'
import { Contract, Wallet, parseEther, type ContractTransactionResponse } from 'ethers'
import { channelIdFor, signVoucher, signVoucherWithTronweb, type SignedVoucher, type VoucherDomain } from '../src/money/voucher.js'
import { CHALLENGE_SECONDS, hex, mined, now, revertOf, setup, travel, tron } from '../testkit/chain.js'
const DAY = 86_400
const INFO_HASH = 'ab'.repeat(20)
const OTHER_INFO_HASH = 'cd'.repeat(20)

t.test('the channel contract on a local EVM node: native deposits, claims, replays and forgeries, refunds and the challenge window', async (t) => {
  const p = await setup(t)
  const { provider, payer, payee, relayer, stranger, domain } = p
  const channels = (signer: Wallet): Contract => p.channels.connect(signer) as Contract
  const payerTron = tron(payer.address)
  const payeeTron = tron(payee.address)
  const id = channelIdFor(payerTron, payeeTron, INFO_HASH)
  t.equal(await p.channels.getFunction('channelIdOf')(payer.address, payee.address, `0x${INFO_HASH}`), hex(id), 'the contract and the daemon compute the same channel id')

  const expiry = (await now(provider)) + DAY
  const deposit = parseEther('1')
  t.equal(await revertOf(channels(payer).getFunction('open')(payee.address, `0x${INFO_HASH}`, '0x0000000000000000000000000000000000000000', deposit, expiry, { value: deposit - 1n })), 'BadDeposit', 'the value must equal the deposit')
  await mined(channels(payer).getFunction('open')(payee.address, `0x${INFO_HASH}`, '0x0000000000000000000000000000000000000000', deposit, expiry, { value: deposit }))
  t.equal(await p.channels.getFunction('available')(hex(id)), deposit, 'opened with the deposit')
  t.equal(await revertOf(channels(payer).getFunction('open')(payee.address, `0x${INFO_HASH}`, '0x0000000000000000000000000000000000000000', deposit, expiry, { value: deposit })), 'ChannelExists')

  const voucher = (nonce: number, amount: bigint, options: { key?: string, channel?: Uint8Array, domain?: VoucherDomain } = {}): SignedVoucher =>
    signVoucher(options.key ?? payer.privateKey, options.domain ?? domain, { channel: options.channel ?? id, nonce, amount })
  // Anyone may submit a claim (here a relayer pays the gas): the payee's balance moves by exactly the claim.
  const claim = (v: SignedVoucher): Promise<ContractTransactionResponse> => channels(relayer).getFunction('claim')(hex(id), v.nonce, v.amount, hex(v.signature))
  const payeeGain = async (v: SignedVoucher): Promise<bigint> => {
    const before = await provider.getBalance(payee.address)
    await mined(claim(v))
    return (await provider.getBalance(payee.address)) - before
  }

  t.equal(await payeeGain(voucher(1, parseEther('0.1'))), parseEther('0.1'), 'a first claim pays the voucher\'s amount')
  t.equal(await payeeGain(voucher(2, parseEther('0.25'))), parseEther('0.15'), 'a second pays only the increase')
  t.equal(await revertOf(claim(voucher(2, parseEther('0.25')))), 'StaleNonce', 'a replayed voucher pays nothing')
  t.equal(await revertOf(claim(voucher(1, parseEther('0.1')))), 'StaleNonce', 'an older voucher pays nothing')
  t.equal(await revertOf(claim(voucher(3, parseEther('0.2')))), 'NothingToClaim', 'a lower cumulative amount pays nothing')
  t.equal(await revertOf(claim(voucher(3, parseEther('0.5'), { key: stranger.privateKey }))), 'BadSignature', 'forged: signed by another key')
  t.equal(await revertOf(claim(voucher(3, parseEther('0.5'), { channel: channelIdFor(payerTron, payeeTron, OTHER_INFO_HASH) }))), 'BadSignature', 'signed for another channel')
  t.equal(await revertOf(claim(voucher(3, parseEther('0.5'), { domain: { ...domain, chainId: 199 } }))), 'BadSignature', 'signed for another chain id')
  t.equal(await revertOf(claim(voucher(3, parseEther('0.5'), { domain: { ...domain, verifyingContract: stranger.address } }))), 'BadSignature', 'signed for another contract')
  t.equal(await revertOf(claim(voucher(3, parseEther('1.5')))), 'AboveDeposit', 'a voucher above the deposit pays nothing')

  // tronweb's own signature (TIP-712), with the contract named in hex or as a TRON address.
  const byTronweb = signVoucherWithTronweb(payer.privateKey, domain, { channel: id, nonce: 3, amount: parseEther('0.3') })
  t.equal(await payeeGain(byTronweb), parseEther('0.05'), 'a voucher signed by tronweb verifies in the contract')
  const tronDomain = { ...domain, verifyingContract: tron(domain.verifyingContract) }
  const byTronwebTronAddress = signVoucherWithTronweb(payer.privateKey, tronDomain, { channel: id, nonce: 4, amount: parseEther('0.4') })
  t.same(Buffer.from(byTronwebTronAddress.signature), Buffer.from(voucher(4, parseEther('0.4')).signature), 'the contract as a TRON address gives the same signature')
  t.equal(await payeeGain(byTronwebTronAddress), parseEther('0.1'))

  // Refunds: not before the expiry, then only after the challenge window, in which the payee may still claim.
  t.equal(await revertOf(channels(payer).getFunction('requestRefund')(hex(id))), 'NotExpired', 'no refund before the expiry')
  t.equal(await revertOf(channels(payer).getFunction('refund')(hex(id))), 'RefundNotRequested')
  t.equal(await revertOf(channels(stranger).getFunction('requestRefund')(hex(id))), 'NotPayer', 'only the payer asks for its money back')
  await travel(provider, DAY)
  await mined(channels(payer).getFunction('requestRefund')(hex(id)))
  t.equal(await revertOf(channels(payer).getFunction('refund')(hex(id))), 'ChallengeWindowOpen', 'the payer must wait out the challenge window')
  t.equal(await payeeGain(voucher(5, parseEther('0.5'))), parseEther('0.1'), 'the payee claims within the window')
  await travel(provider, CHALLENGE_SECONDS)
  const payerBefore = await provider.getBalance(payer.address)
  const refund = await (await channels(payer).getFunction('refund')(hex(id)) as ContractTransactionResponse).wait()
  const gas = refund!.gasUsed * refund!.gasPrice
  t.equal((await provider.getBalance(payer.address)) - payerBefore + gas, parseEther('0.5'), 'the refund returns exactly what was not claimed')
  t.equal(await p.channels.getFunction('available')(hex(id)), 0n)
  t.equal(await revertOf(claim(voucher(6, parseEther('0.6')))), 'AboveDeposit', 'nothing is left to claim after the refund')

  // A new deposit on the same channel: vouchers stay cumulative, so an old one never pays again.
  await mined(channels(payer).getFunction('topUp')(hex(id), parseEther('1'), (await now(provider)) + DAY, { value: parseEther('1') }))
  t.equal(await revertOf(claim(voucher(5, parseEther('0.5')))), 'StaleNonce', 'a voucher claimed before the refund cannot be claimed again')
  t.equal(await payeeGain(voucher(6, parseEther('0.9'))), parseEther('0.4'), 'the next voucher continues from the claimed total')
})

t.test('the token path (transferFrom) and a cooperative close', async (t) => {
  const p = await setup(t)
  const { provider, payer, payee, relayer, domain } = p
  const channels = (signer: Wallet): Contract => p.channels.connect(signer) as Contract
  const token = (signer: Wallet): Contract => p.token.connect(signer) as Contract
  const channelsAddress = await p.channels.getAddress()
  const tokenAddress = await p.token.getAddress()
  const id = channelIdFor(tron(payer.address), tron(payee.address), INFO_HASH)
  const deposit = parseEther('100')
  await mined(token(relayer).getFunction('mint')(payer.address, deposit))
  const expiry = (await now(provider)) + DAY
  t.equal(await revertOf(channels(payer).getFunction('open')(payee.address, `0x${INFO_HASH}`, tokenAddress, deposit, expiry)), 'TransferFailed', 'without an allowance the deposit fails')
  await mined(token(payer).getFunction('approve')(channelsAddress, deposit))
  t.equal(await revertOf(channels(payer).getFunction('open')(payee.address, `0x${INFO_HASH}`, tokenAddress, deposit, expiry, { value: 1n })), 'BadDeposit', 'no native value with a token deposit')
  await mined(channels(payer).getFunction('open')(payee.address, `0x${INFO_HASH}`, tokenAddress, deposit, expiry))
  t.equal(await p.token.getFunction('balanceOf')(channelsAddress), deposit, 'the deposit moved into the contract by transferFrom')

  const v1 = signVoucher(payer.privateKey, domain, { channel: id, nonce: 1, amount: parseEther('30') })
  await mined(channels(relayer).getFunction('claim')(hex(id), v1.nonce, v1.amount, hex(v1.signature)))
  t.equal(await p.token.getFunction('balanceOf')(payee.address), parseEther('30'), 'a claim pays in the token')
  const last = signVoucherWithTronweb(payer.privateKey, domain, { channel: id, nonce: 2, amount: parseEther('42.5') })
  t.equal(await revertOf(channels(relayer).getFunction('close')(hex(id), last.nonce, last.amount, hex(last.signature))), 'NotPayee', 'only the payee closes early')
  await mined(channels(payee).getFunction('close')(hex(id), last.nonce, last.amount, hex(last.signature)))
  t.equal(await p.token.getFunction('balanceOf')(payee.address), parseEther('42.5'), 'the close claims the final voucher')
  t.equal(await p.token.getFunction('balanceOf')(payer.address), parseEther('57.5'), 'and returns the rest to the payer at once')
  t.equal(await p.token.getFunction('balanceOf')(channelsAddress), 0n)
})
