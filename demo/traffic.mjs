// Demo traffic for `npm start`: agents on stock clients run past their quota through the gateway,
// each its own way through the 402, so the dashboard has something real to show and the screen
// a line per agent of what it met and how it got through:
//   - two agents on the official MCP SDK with the kit's fetch (`clients/js`), solving proofs of work;
//   - one paying L402 invoices with the kit from the local LNbits payer wallet;
//   - one paying x402 per call with the kit (HTTP 402, PAYMENT-SIGNATURE);
//   - one paying MPP with mppx's fetch wrapper under the MCP SDK (HTTP 402, Authorization: Payment);
//   - one paying MPP inside MCP with mppx's McpClient.wrap (in-band, _meta credential);
//   - one paying x402 inside MCP with the official Python x402 MCP client (in-band, _meta payment),
//     a child process (demo/x402_mcp_agent.py);
//   - one on MCP 2026-07-28, the official Python SDK 2.x against the Python origin through the
//     gateway, solving the proof of work of its in-band refusals (demo/agent_2026.py).
// Each agent that pays on the chain has its own funded account, so their payments never wait on
// each other's signer.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Mppx, evm } from 'mppx-client/client';
import { McpClient } from 'mppx-client/mcp/client';
import { gatehouseFetch } from '../clients/js/index.mjs';
import { TOKEN_NAME, TOKEN_VERSION } from './x402/chain.mjs';

const ROOT = join(import.meta.dirname, '..');
const X402_PYTHON = join(ROOT, '.tools', 'x402py', 'bin', 'python');
const PY2_PYTHON = join(ROOT, '.tools', 'py2', 'bin', 'python');
const privateKey = (account) => `0x${Buffer.from(account.getHdKey().privateKey).toString('hex')}`;
const evmCharge = (account) => evm.charge({ account, authorization: { name: TOKEN_NAME, version: TOKEN_VERSION } });

/** Mints an API key for a demo agent through the admin API, as an operator would. */
export async function mintKey(mcpUrl, adminSecret, id) {
  const res = await fetch(new URL('/admin/api/keys', mcpUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${adminSecret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  if (res.status !== 201) throw new Error(`minting a key for ${id}: ${res.status}`);
  return (await res.json()).key;
}

/**
 * What one agent has done so far: `calls` served of `target`, `met` refusals (402s over HTTP, or
 * in-band refusals), `through` the ones it got through (`how`), `failed` calls it did not get
 * served, and its state.
 */
function newAgent(name, target, transport, how) {
  return { name, target, transport, how, calls: 0, met: 0, through: 0, failed: 0, state: 'starting', error: null, negotiated: null };
}

/** An SDK client for `agent`, connected through `fetch` with its own API key. */
async function connectSdk(url, agent, key, fetchFn = fetch) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: fetchFn, requestInit: { headers: { 'x-api-key': key } } });
  const client = new Client({ name: agent.name, version: '1.0.0' });
  await client.connect(transport);
  return client;
}

/** Calls `echo` until the agent's target, counting what was served; `call` may be wrapped. */
async function callLoop(agent, call) {
  agent.state = 'running';
  for (let i = 0; i < agent.target; i++) {
    const message = `${agent.name} ${i}`;
    const r = await call({ name: 'echo', arguments: { message } });
    if (r.isError || r.content?.[0]?.text !== message) agent.failed++;
    else agent.calls++;
  }
}

/** The kit's fetch (`clients/js`): it declares Gatehouse-Accept: 402 and solves or pays. */
async function kitAgent(agent, url, key, options) {
  const onEvent = (e) => {
    if (e.type === 'challenge') agent.met++;
    // A proof of work is solved then redeemed; an invoice paid then redeemed; x402 paid per call.
    if (e.type === 'solved' || e.type === 'paid') agent.through++;
  };
  const client = await connectSdk(url, agent, key, gatehouseFetch({ ...options, onEvent }));
  try { await callLoop(agent, (p) => client.callTool(p)); } finally { await client.close(); }
}

/** mppx's fetch wrapper under the SDK: it sends Accept-Payment, so it gets the HTTP 402. */
async function mppHttpAgent(agent, url, key, account) {
  // Watches the wire under mppx (what it is answered), changing nothing.
  const watching = async (input, init) => {
    const res = await fetch(input, init);
    if (res.status === 402) agent.met++;
    if (res.headers.get('payment-receipt')) agent.through++;
    return res;
  };
  const mppx = Mppx.create({ methods: [evmCharge(account)], polyfill: false, fetch: watching });
  const client = await connectSdk(url, agent, key, mppx.fetch);
  try { await callLoop(agent, (p) => client.callTool(p)); } finally { await client.close(); }
}

/** mppx's McpClient.wrap around a stock SDK client: it pays the in-band refusal in `_meta`. */
async function mppMcpAgent(agent, url, key, account) {
  const client = await connectSdk(url, agent, key);
  const paying = McpClient.wrap(client, {
    methods: [evmCharge(account)],
    // mppx asks before it pays: each ask is an in-band refusal met.
    onPaymentRequired: () => { agent.met++; return true; },
  });
  try {
    await callLoop(agent, async (p) => {
      const r = await paying.callTool(p);
      if (r.receipt) agent.through++;
      return r;
    });
  } finally { await client.close(); }
}

/** Runs a Python agent; its JSON lines update `agent` as they come; stderr goes to `log`. */
function pythonAgent(agent, python, args, { stdin, log, children }) {
  return new Promise((resolve, reject) => {
    if (!existsSync(python)) return reject(new Error(`${python} is missing (scripts/setup.sh installs it)`));
    const child = spawn(python, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    child.stdin.end(stdin ?? '');
    child.stderr.on('data', (chunk) => log(`[${agent.name}] ${chunk}`));
    createInterface({ input: child.stdout }).on('line', (line) => {
      let e;
      try { e = JSON.parse(line); } catch { return log(`[${agent.name}] ${line}\n`); }
      if (e.event === 'connected') { agent.state = 'running'; agent.negotiated = e.negotiated ?? null; }
      if (e.event === 'call') {
        agent.calls++;
        if (e.paid || e.solved) { agent.met++; agent.through++; }
      }
      if (e.event === 'refused') { agent.met++; agent.failed++; log(`[${agent.name}] refused: ${e.error}\n`); }
      if (e.event === 'failed') agent.error = e.error;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (agent.error) reject(new Error(agent.error));
      else if (code !== 0) reject(new Error(`exited ${signal ?? code}`));
      else resolve();
    });
  });
}

/**
 * Starts the demo agents against the gateway at `mcpUrl` (and, given `mcp2026Url`, the 2026-07-28
 * origin's route). `payers` are funded accounts of the local chain, one per paying agent, in the
 * order x402, MPP, MPP in MCP, x402 in MCP. Returns the agents' live records, a promise settled
 * when all have finished, and `stop()` for the child processes.
 */
export function startDemoTraffic(mcpUrl, { adminSecret, pay, chain, payers = [], mcp2026Url, log = () => {} }) {
  const children = new Set();
  const [x402Payer, mppPayer, mppMcpPayer, x402McpPayer] = payers;
  const plan = [
    [newAgent('demo-agent-pow-1', 80, 'HTTP', 'solved (PoW) for a token'), (a, k) => kitAgent(a, mcpUrl, k, {})],
    [newAgent('demo-agent-pow-2', 70, 'HTTP', 'solved (PoW) for a token'), (a, k) => kitAgent(a, mcpUrl, k, {})],
  ];
  if (pay) {
    const wallet = { payInvoice: async ({ invoice }) => ({ preimage: await pay(invoice) }) };
    plan.push([newAgent('demo-agent-l402', 70, 'HTTP', 'paid with L402 (LNbits invoice) for a token'), (a, k) => kitAgent(a, mcpUrl, k, { wallet })]);
  }
  if (x402Payer) plan.push([newAgent('demo-agent-x402', 70, 'HTTP', 'paid with x402 (PAYMENT-RESPONSE)'), (a, k) => kitAgent(a, mcpUrl, k, { x402: { signer: x402Payer } })]);
  if (mppPayer) plan.push([newAgent('demo-agent-mpp', 70, 'HTTP', 'paid with MPP (Payment-Receipt)'), (a, k) => mppHttpAgent(a, mcpUrl, k, mppPayer)]);
  if (mppMcpPayer) plan.push([newAgent('demo-agent-mpp-mcp', 70, 'in-band', 'paid with MPP in _meta (receipt in _meta)'), (a, k) => mppMcpAgent(a, mcpUrl, k, mppMcpPayer)]);
  if (x402McpPayer) {
    plan.push([newAgent('demo-agent-x402-mcp', 70, 'in-band', 'paid with x402 in _meta (x402/payment-response)'), (a, k) => pythonAgent(a, X402_PYTHON, [join(ROOT, 'demo', 'x402_mcp_agent.py')], {
      log,
      children,
      stdin: JSON.stringify({
        url: mcpUrl, network: chain.network, asset: chain.token, cap: '100000', calls: a.target, interval_ms: 0,
        agents: [{ name: a.name, api_key: k, private_key: privateKey(x402McpPayer) }],
      }),
    })]);
  }
  if (mcp2026Url) {
    plan.push([newAgent('demo-agent-2026', 70, 'in-band', 'solved (PoW) for a token'), (a, k) => pythonAgent(a, PY2_PYTHON, [join(ROOT, 'demo', 'agent_2026.py'), mcp2026Url, k, String(a.target)], { log, children })]);
  }
  const agents = plan.map(([a]) => a);
  const done = Promise.all(plan.map(async ([a, run]) => {
    try {
      await run(a, await mintKey(mcpUrl, adminSecret, a.name));
      a.state = 'done';
    } catch (e) {
      a.state = 'stopped';
      a.error = String(e?.message ?? e).split('\n')[0].slice(0, 160);
      log(`[${a.name}] stopped: ${e?.stack ?? e}\n`);
    }
  }));
  return {
    agents,
    done,
    stop: () => { for (const c of children) { try { c.kill('SIGTERM'); } catch {} } },
  };
}

/** One line for an agent: what it met and how it got through. */
export function agentLine(a) {
  const revision = a.negotiated ? `MCP ${a.negotiated}, ` : '';
  const state = a.state === 'stopped' ? `stopped: ${a.error}` : a.state;
  return `${`${a.name}:`.padEnd(21)} ${revision}${a.calls}/${a.target} calls, ${a.met} × 402 met (${a.transport}), ${a.through} ${a.how}, ${a.failed} failed — ${state}`;
}
