// A real local EVM chain for x402: Hardhat's node from the npm registry, with our EIP-3009 token
// (LocalDollar.sol) compiled by the solc npm package and deployed, and payer accounts funded with
// it. Runs offline once `npm install` is done; starts in a few seconds. Used by `npm start`, the
// study and the x402 tests.
//
// Accounts are Hardhat's well-known development keys (public knowledge; local use only):
// #0 deploys and mints, #1 is the facilitator's signer (it pays the gas), #2 is the gateway's
// payTo, and #3 onwards are payers.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import solc from 'solc';
import { createPublicClient, createWalletClient, http, publicActions } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { hardhat } from 'viem/chains';

const ROOT = join(import.meta.dirname, '..', '..');
const HERE = import.meta.dirname;
// Hardhat's default development mnemonic: its node funds the accounts it derives.
const MNEMONIC = 'test test test test test test test test test test test junk';
export const TOKEN_NAME = 'Local Dollar';
export const TOKEN_VERSION = '2';

export const account = (index) => mnemonicToAccount(MNEMONIC, { addressIndex: index });

async function freePort() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** Compiles LocalDollar.sol with solc (bundled as wasm, no download). */
export function compileToken() {
  const input = {
    language: 'Solidity',
    sources: { 'LocalDollar.sol': { content: readFileSync(join(HERE, 'LocalDollar.sol'), 'utf8') } },
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: 'cancun', outputSelection: { '*': { LocalDollar: ['abi', 'evm.bytecode.object'] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const c = out.contracts['LocalDollar.sol'].LocalDollar;
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

async function rpcUp(url, deadline) {
  for (;;) {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' });
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error('the local chain did not come up in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts the chain, deploys the token and mints `fund` atomic units to each of `payers` payer
 * accounts. Resolves with what a gateway, a facilitator and a client need to know.
 */
export async function startChain({ port, payers = 2, fund = 1_000_000_000n } = {}) {
  port ??= await freePort();
  const cli = join(ROOT, 'node_modules', 'hardhat', 'dist', 'src', 'cli.js');
  const child = spawn(process.execPath, [cli, 'node', '--config', join(HERE, 'hardhat.config.js'), '--hostname', '127.0.0.1', '--port', String(port)], { cwd: ROOT, stdio: 'ignore', detached: true });
  const stop = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} };
  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    await rpcUp(rpcUrl, Date.now() + 60_000);
    const { abi, bytecode } = compileToken();
    const transport = http(rpcUrl);
    const publicClient = createPublicClient({ chain: hardhat, transport });
    const deployer = createWalletClient({ account: account(0), chain: hardhat, transport });
    const hash = await deployer.deployContract({ abi, bytecode, args: [TOKEN_NAME, TOKEN_VERSION] });
    const { contractAddress: token } = await publicClient.waitForTransactionReceipt({ hash });
    const payerAccounts = Array.from({ length: payers }, (_, i) => account(3 + i));
    for (const p of payerAccounts) {
      const minted = await deployer.writeContract({ address: token, abi, functionName: 'mint', args: [p.address, fund] });
      await publicClient.waitForTransactionReceipt({ hash: minted });
    }
    return {
      pid: child.pid,
      rpcUrl,
      chainId: hardhat.id,
      network: `eip155:${hardhat.id}`,
      token,
      abi,
      payTo: account(2).address,
      facilitatorAccount: account(1),
      payers: payerAccounts,
      publicClient,
      /** The token balance of `address`, in atomic units. */
      balanceOf: (address) => publicClient.readContract({ address: token, abi, functionName: 'balanceOf', args: [address] }),
      /** A wallet client of `acct` on this chain, with read actions too. */
      wallet: (acct) => createWalletClient({ account: acct, chain: hardhat, transport }).extend(publicActions),
      stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}

/** The gateway's X402_* variables for this chain and a facilitator at `facilitatorUrl`. */
export function gatewayVars(chain, facilitatorUrl, pricePerCall = 1_000) {
  return {
    X402_NETWORK: chain.network,
    X402_ASSET: chain.token,
    X402_PAY_TO: chain.payTo,
    X402_PRICE_PER_CALL: String(pricePerCall),
    X402_ASSET_NAME: TOKEN_NAME,
    X402_ASSET_VERSION: TOKEN_VERSION,
    X402_FACILITATOR_URL: facilitatorUrl,
  };
}
