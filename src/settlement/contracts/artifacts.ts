import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ContractFactory, type Contract, type InterfaceAbi, type Signer } from 'ethers'
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
