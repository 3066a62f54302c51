// The local development chain of `bidtorrent devnet` and the chain tests: Hardhat's node, nothing
// else. The chain id and the folder for Hardhat's cache come from the environment.
const { join } = require('node:path')
const { tmpdir } = require('node:os')

const dir = process.env.BIDTORRENT_DEVNET_DIR || join(tmpdir(), 'bidtorrent-devnet')
module.exports = {
  paths: { cache: join(dir, 'cache'), artifacts: join(dir, 'artifacts'), sources: join(dir, 'sources') },
  networks: {
    hardhat: {
      chainId: Number(process.env.BIDTORRENT_DEVNET_CHAIN_ID || 31337),
      hardfork: 'cancun'
    }
  }
}
