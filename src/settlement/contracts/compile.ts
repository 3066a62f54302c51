import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import solc from 'solc'
import { errorMessage } from '../../util/errors.js'
import { CONTRACT_ARTIFACTS, CONTRACT_SOURCES } from '../../util/project.js'

/**
 * Compiles the channel contract (and the development token) from source with the npm `solc`
 * package, the compiler itself as WebAssembly: no compiler download. Run by `npm run build`; writes
 * one JSON artifact (ABI and bytecode) per contract into dist/contracts.
 *
 * The EVM target is Paris (no PUSH0), which both BTTC and TRON's TVM run.
 */
export async function compileContracts (): Promise<string[]> {
  const files = (await readdir(CONTRACT_SOURCES)).filter((file) => file.endsWith('.sol')).sort()
  const sources = Object.fromEntries(await Promise.all(files.map(async (file) => [file, { content: await readFile(join(CONTRACT_SOURCES, file), 'utf8') }])))
  const input = {
    language: 'Solidity',
    sources,
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: 'paris', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } }
  }
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: Array<{ severity: string, formattedMessage: string }>
    contracts?: Record<string, Record<string, { abi: unknown[], evm: { bytecode: { object: string } } }>>
  }
  const problems = (output.errors ?? []).filter((error) => error.severity === 'error' || /Warning/.test(error.formattedMessage))
  if (problems.length > 0) throw new Error(`solc ${solc.version()}:\n${problems.map((problem) => problem.formattedMessage).join('\n')}`)
  await mkdir(CONTRACT_ARTIFACTS, { recursive: true })
  const written: string[] = []
  for (const contracts of Object.values(output.contracts ?? {})) {
    for (const [name, contract] of Object.entries(contracts)) {
      if (contract.evm.bytecode.object.length === 0) continue
      const artifact = { contractName: name, compiler: solc.version(), abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` }
      await writeFile(join(CONTRACT_ARTIFACTS, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`)
      written.push(name)
    }
  }
  return written
}

if (import.meta.url === `file://${process.argv[1]}`) {
  compileContracts().then((names) => {
    process.stdout.write(`compiled ${names.join(', ')} into ${CONTRACT_ARTIFACTS}\n`)
  }, (err: unknown) => {
    process.stderr.write(`contract compilation failed: ${errorMessage(err)}\n`)
    process.exitCode = 1
  })
}
