// The local chain of the x402 demo and tests: Hardhat's node (EDR) with its defaults (chain id
// 31337, funded well-known accounts, a block per transaction), except that blocks may share a
// second: by default each block is at least a second after the last, so a burst of settlements
// would run the chain's clock minutes ahead of the wall clock that payers sign validity windows
// by, and the token would call fresh authorizations expired. Nothing is compiled through Hardhat
// (chain.mjs compiles with solc), so its build folders go to the temp directory.
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default {
  networks: {
    node: { type: 'edr-simulated', allowBlocksWithSameTimestamp: true },
  },
  paths: {
    artifacts: join(tmpdir(), 'gatehouse-hardhat', 'artifacts'),
    cache: join(tmpdir(), 'gatehouse-hardhat', 'cache'),
  },
};
