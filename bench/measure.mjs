// One measured run: `total` requests at `concurrency`, with the CPU the workerd processes spent
// meanwhile (cpu.mjs), per request. Rounds of the same target are folded to their medians.
import { request, run, summarize } from './load.mjs';
import { cpuSeconds, workerdPids } from './cpu.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function measure(make, { total, concurrency }) {
  const pids = workerdPids();
  const before = cpuSeconds(pids);
  const load = await run(make, { total, concurrency });
  // Work a response left behind (waitUntil: audit writes, counters) is the request's cost too.
  await sleep(150);
  return { ...load, cpuUs: ((cpuSeconds(pids) - before) * 1e6) / total, workerds: pids.length };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Each figure the median of its own rounds. */
export function medianOf(rounds) {
  return Object.fromEntries(['cpuUs', 'rps', 'p50', 'p99'].map((k) => [k, median(rounds.map((r) => r[k]))]));
}

/** Runs every target `rounds` times, interleaved so that drift on a shared machine touches all. */
export async function rounds(targets, { rounds: n, total, concurrency, warmup = 200 }) {
  const labelled = (t, p) => p.catch((e) => { throw new Error(`${t.label}: ${e.message}`); });
  for (const t of targets) await labelled(t, run(t.make, { total: warmup, concurrency }));
  const seen = new Map(targets.map((t) => [t, []]));
  for (let i = 0; i < n; i++) for (const t of targets) seen.get(t).push(await labelled(t, measure(t.make, { total, concurrency })));
  return targets.map((t) => ({ ...t, ...medianOf(seen.get(t)) }));
}

/** One request at a time, taking the targets in turn request by request (the order rotated each
 * pass), so that whatever the shared machine does meanwhile lands on every target alike: each
 * target's latencies, summarized, and its p50 less the first target's as `added`. */
export async function interleaved(targets, { passes, warmup = 50 }) {
  for (const t of targets) await run(t.make, { total: warmup, concurrency: 1 });
  const seen = targets.map(() => []);
  for (let i = 0; i < passes; i++) {
    for (let j = 0; j < targets.length; j++) {
      const k = (i + j) % targets.length;
      const r = await request(targets[k].make());
      if (r.status !== 200) throw new Error(`${targets[k].label}: unexpected ${r.status}: ${r.body.slice(0, 200)}`);
      seen[k].push(r.ms);
    }
  }
  const out = targets.map((t, k) => ({ ...t, ...summarize(seen[k], 1) }));
  return out.map((r) => ({ ...r, added: r.p50 - out[0].p50 }));
}
