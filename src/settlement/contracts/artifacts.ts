import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ContractFactory, Interface, type Contract, type InterfaceAbi, type Signer } from 'ethers'
import { CONTRACT_ARTIFACTS } from '../../util/project.js'

export interface ContractArtifact {
  readonly contractName: string
  readonly compiler: string
  readonly abi: InterfaceAbi
  /** Deployment bytecode, 0x-prefixed. */
  readonly bytecode: string
}

export type ContractName = 'BidtorrentChannels' | 'TestToken'

const loaded = new Map<ContractName, ContractArtifact>()

/** A contract compiled by `npm run build` (src/settlement/contracts/compile.ts). */
export function artifact (name: ContractName): ContractArtifact {
  let found = loaded.get(name)
  if (!found) {
    try {
      found = JSON.parse(readFileSync(join(CONTRACT_ARTIFACTS, `${name}.json`), 'utf8')) as ContractArtifact
    } catch (err) {
      throw new Error(`the ${name} contract is not compiled (run "npm run build"): ${(err as Error).message}`)
    }
    loaded.set(name, found)
  }
  return found
}

/** Deploys a compiled contract from `signer` and waits until it is mined. */
export async function deployContract (name: ContractName, signer: Signer, ...args: unknown[]): Promise<Contract> {
  const { abi, bytecode } = artifact(name)
  const contract = await new ContractFactory(abi, bytecode, signer).deploy(...args)
  await contract.waitForDeployment()
  return contract as Contract
}

/** The part of an ERC-20 (or TRC-20) token a channel's payer uses. */
export const ERC20_ABI = ['function approve(address spender, uint256 amount) returns (bool)', 'function balanceOf(address owner) view returns (uint256)', 'function transfer(address to, uint256 amount) returns (bool)']

let channelsAbi: Interface | undefined
let erc20Abi: Interface | undefined
/** The channel contract's ABI, parsed once: to encode calls and decode results by hand (TRON). */
export const channelsInterface = (): Interface => (channelsAbi ??= new Interface(artifact('BidtorrentChannels').abi))
export const erc20Interface = (): Interface => (erc20Abi ??= new Interface(ERC20_ABI))
