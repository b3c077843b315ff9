// Reads V8 CPU profiles (the DevTools protocol's Profiler.Profile: a call tree of nodes, and
// samples with the time since the previous one) into a Markdown summary: self time by category,
// Wasm self time by Rust module, inclusive time of the gateway's own functions (its steps), and
// the top functions by self time. Wasm functions carry their Rust names: V8 reads the module's
// name section, which the release build keeps.

const per = (us, n) => (us / n).toFixed(1);
const pct = (part, whole) => `${((part / whole) * 100).toFixed(1)}%`;
const isWasm = (f) => f.url.startsWith('wasm://');
const EXCLUDED = new Set(['(idle)', '(program)', '(root)']);

/** What a function is, for the category table. */
export function category(f) {
  if (isWasm(f)) return 'Wasm (Rust, gatehouse.wasm)';
  if (f.functionName === 'wasm-to-js' || f.functionName === 'js-to-wasm') return 'Wasm <-> JS boundary (V8 trampolines)';
  if (f.url === 'index.js') return 'JS glue (wasm-bindgen + worker shim, build/index.js)';
  if (f.functionName === '(garbage collector)') return 'garbage collector';
  if (f.url && !/^[a-z-]+-internal:/.test(f.url)) return 'JS (the worker\'s own script)';
  return 'platform (fetch, Request/Response/Headers, streams, timers, DO storage, console)';
}

/** A Rust symbol without its hash and crate disambiguators. */
const tidy = (name) => name.replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{16}\]/g, '');

/** The Rust module a symbol belongs to: `gatehouse_core::json_strict`, `sha2::sha256`, ... */
function rustModule(name) {
  const path = tidy(name).replace(/^<(&(mut )?)?/, '').split(/::|<| as /);
  const depth = path[0].startsWith('gatehouse') ? 3 : 2;
  const out = [];
  for (const seg of path.slice(0, -1)) {
    if (!/^[a-z_][a-z0-9_]*$/.test(seg) || out.length === depth) break;
    out.push(seg);
  }
  return out.join('::') || path[0];
}

/** Per node: self time in µs (each sample holds until the next: DevTools' own convention). */
function selfTimes(profile) {
  const self = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length - 1; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + timeDeltas[i + 1]);
  return self;
}

export function analyse(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = selfTimes(profile);
  // Unnamed native frames are named for their caller (console.log's formatting, say).
  const nameOf = (n) => {
    const f = n.callFrame;
    if (f.functionName || f.url) return isWasm(f) ? tidy(f.functionName) : f.functionName || '(anonymous)';
    const up = byId.get(parent.get(n.id));
    return `(native, under ${up ? up.callFrame.functionName || 'root' : 'root'})`;
  };
  const fns = new Map();
  let busy = 0, excluded = {};
  for (const n of profile.nodes) {
    const t = self.get(n.id) ?? 0;
    if (EXCLUDED.has(n.callFrame.functionName)) { excluded[n.callFrame.functionName] = (excluded[n.callFrame.functionName] ?? 0) + t; continue; }
    busy += t;
    const key = `${nameOf(n)}\u0000${n.callFrame.url}`;
    const e = fns.get(key) ?? { name: nameOf(n), frame: n.callFrame, self: 0 };
    e.self += t;
    fns.set(key, e);
  }
  // Inclusive time of each gateway function, counted once per sample however deep it recurs.
  const inclusive = new Map();
  for (const [id, t] of self) {
    const seen = new Set();
    for (let n = byId.get(id); n; n = byId.get(parent.get(n.id))) {
      const f = n.callFrame;
      if (!isWasm(f) || !/^<?gatehouse/.test(f.functionName)) continue;
      const name = tidy(f.functionName);
      if (!seen.has(name)) { seen.add(name); inclusive.set(name, (inclusive.get(name) ?? 0) + t); }
    }
  }
  const wall = profile.endTime - profile.startTime;
  return { fns: [...fns.values()], busy, excluded, inclusive, wall, samples: profile.samples.length };
}

const sum = (xs, f) => xs.reduce((s, x) => s + f(x), 0);

export function summarize(profiles, { total, concurrency, samplingUs, cpuUs, rps, file, path = 'token' }) {
  const g = analyse(profiles.gateway);
  const entry = analyse(profiles.entry);
  const cats = new Map();
  for (const f of g.fns) cats.set(category(f.frame), (cats.get(category(f.frame)) ?? 0) + f.self);
  const modules = new Map();
  for (const f of g.fns.filter((x) => isWasm(x.frame))) modules.set(rustModule(f.frame.functionName), (modules.get(rustModule(f.frame.functionName)) ?? 0) + f.self);
  const wasmSelf = sum(g.fns.filter((x) => isWasm(x.frame)), (x) => x.self);
  const rows = (entries, n, fmt) => [...entries].sort((a, b) => b[1] - a[1]).slice(0, n).map(fmt);
  return [
    `### Where the time goes: the gateway isolate on the ${path} path`,
    '',
    `V8 sampling profile of the gateway's isolate (workerd inspector, DevTools protocol) over ${total} ${path}-path tools/call requests, ${concurrency} in flight, ` +
      `${rps.toFixed(0)} req/s; sampling asked every ${samplingUs} µs, ${g.samples} samples taken over ${(g.wall / 1000).toFixed(0)} ms (one every ${(g.wall / g.samples).toFixed(0)} µs). ` +
      `Sampled µs/req are the samples' wall time per request with the profiler running: they carry its cost and the waits for a shared core, ` +
      `and the two isolates' figures overlap, so read the shares, not the absolute figures (workerd's CPU from /proc meanwhile, profiler included: ${cpuUs.toFixed(0)} µs/req; ` +
      'the main table has it without the profiler). ' +
      `Full profile: \`${file}\` (not committed; open in Chrome DevTools or speedscope).`,
    '',
    'The isolate profile sees JS, Wasm (by Rust name, from the name section) and the runtime APIs they call; what workerd does on its own threads ' +
      '(HTTP parsing, sockets, the outbound connection to the origin, the Durable Object storage engine) is not in it, and shows only in the /proc figure.',
    '',
    '| category | sampled µs/req | share of busy |',
    '|---|---|---|',
    ...rows(cats, 10, ([c, t]) => `| ${c} | ${per(t, total)} | ${pct(t, g.busy)} |`),
    `| **isolate busy (sum of the above)** | **${per(g.busy, total)}** | 100% |`,
    `| (program): V8 and workerd native code outside any JS frame, excluded | ${per(g.excluded['(program)'] ?? 0, total)} | |`,
    `| (idle), excluded | ${per(g.excluded['(idle)'] ?? 0, total)} | |`,
    `| Miniflare's entry worker (routes each request here, absent in production), busy | ${per(entry.busy, total)} | |`,
    '',
    `Wasm self time by Rust module (${per(wasmSelf, total)} µs/req in all):`,
    '',
    '| module | sampled µs/req | share of Wasm |',
    '|---|---|---|',
    ...rows(modules, 15, ([m, t]) => `| \`${m}\` | ${per(t, total)} | ${pct(t, wasmSelf)} |`),
    '',
    'The gateway\'s own functions by inclusive time (self plus callees, once per sample; async steps count only their polls), per step:',
    '',
    '| function | sampled µs/req incl. | share of busy |',
    '|---|---|---|',
    ...rows(g.inclusive, 25, ([name, t]) => `| \`${name}\` | ${per(t, total)} | ${pct(t, g.busy)} |`),
    '',
    'Top 25 functions by self time:',
    '',
    '| function | category | sampled µs/req | share of busy |',
    '|---|---|---|---|',
    ...g.fns.sort((a, b) => b.self - a.self).slice(0, 25)
      .map((f) => `| \`${f.name.length > 110 ? `${f.name.slice(0, 107)}...` : f.name}\` | ${category(f.frame).split(' (')[0]} | ${per(f.self, total)} | ${pct(f.self, g.busy)} |`),
  ].join('\n');
}
