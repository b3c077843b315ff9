// The built gateway with a probe in front of its bundle that counts what the quick lane's
// `quick_plan` decided (`planned`: sent on or refused there; `slow`: handed to the async path),
// read at `/__lane` with the Wasm instance's id (\`__worker_init_state\`): for tests and the bench
// to say which way requests went.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './gateway.mjs';

// The bundle under another name, and in its place a module that wraps `quick_plan` to count.
const COUNTING = `import Shim from './bundle.js';
export * from './bundle.js';
const lane = (globalThis.__lane = { planned: 0, slow: 0 });
const plan = Shim.prototype.quick_plan;
Shim.prototype.quick_plan = function (...args) {
  const planned = plan.apply(this, args);
  if (planned === undefined) lane.slow++; else lane.planned++;
  return planned;
};
export default Shim;
`;
const PROBE = `import entry from './entry.mjs';
export * from './entry.mjs';
export default {
  fetch(req, env, ctx) {
    if (new URL(req.url).pathname === '/__lane') return Response.json({ ...globalThis.__lane, instanceId: globalThis.__worker_init_state?.instanceId });
    return entry.fetch(req, env, ctx);
  },
};
`;

/** A build's modules with `probe` (a module entry that imports ./entry.mjs) first, and `shim`
 * (a module that imports the bundle as ./bundle.js) in the bundle's place, for `startGateway`'s
 * `workerOverrides`. */
export const probedModules = (build, probe, shim) => [
  { type: 'ESModule', path: join(build, 'probe.mjs'), contents: probe },
  { type: 'ESModule', path: join(build, 'entry.mjs') },
  { type: 'ESModule', path: join(build, 'edge.mjs') },
  { type: 'ESModule', path: join(build, 'index.js'), contents: shim },
  { type: 'ESModule', path: join(build, 'bundle.js'), contents: readFileSync(join(build, 'index.js'), 'utf8') },
  { type: 'CompiledWasm', path: join(build, 'index_bg.wasm') },
];

/** The worker's modules with the counting probe. */
export const laneCountingModules = (build = join(ROOT, 'build')) => probedModules(build, PROBE, COUNTING);

/** The counts so far. */
export const laneCounts = async (gatewayUrl) => (await fetch(`${gatewayUrl}/__lane`)).json();
