// CPU time of the workerd processes Miniflare spawned, read from /proc (proc(5): utime and stime
// of /proc/<pid>/stat, fields 14 and 15, in clock ticks, summed over all of a process's threads).
// workerd is found as a descendant of this node process named `workerd`, so the load generator,
// the origin and node itself are never counted.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** [pid, ppid, comm, utime + stime] of one process, or null if it is gone. */
function stat(pid) {
  let raw;
  try { raw = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return null; }
  // comm may hold spaces and parentheses; the fields after it start past the last ')'.
  const comm = raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')'));
  const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) };
}

/** Pids of every workerd process below `root` (default: this process). */
export function workerdPids(root = process.pid) {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(stat).filter(Boolean);
  const below = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) if (!below.has(p.pid) && below.has(p.ppid)) { below.add(p.pid); grew = true; }
  }
  return all.filter((p) => p.pid !== root && below.has(p.pid) && p.comm === 'workerd').map((p) => p.pid);
}

/** Summed utime + stime of `pids`, in seconds. */
export function cpuSeconds(pids) {
  return pids.reduce((sum, pid) => sum + (stat(pid)?.ticks ?? 0), 0) / CLK_TCK;
}

/**
 * With `BENCH_PIN=1`: workerd's processes (every thread, V8's own helpers too) on core 0, and this
 * process (the load generator, and Miniflare's side of workerd's logs), with the origin (`others`),
 * on the rest, so that the two never take turns on one core mid-round. Pinned and unpinned runs'
 * absolute figures do not compare. Needs `taskset` (util-linux) and two cores or more; otherwise
 * it says so (for want of taskset) and does nothing.
 */
export function pinCores(others = []) {
  if (process.env.BENCH_PIN !== '1') return false;
  const cores = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  if (cores < 2) return false;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    console.error('BENCH_PIN=1 needs taskset (util-linux): running unpinned');
    return false;
  }
  const pin = (list, pid) => execFileSync('taskset', ['-a', '-pc', list, String(pid)], { stdio: 'ignore' });
  for (const pid of workerdPids()) pin('0', pid);
  for (const pid of [process.pid, ...others]) pin(`1-${cores - 1}`, pid);
  return true;
}

/** This process back on every core (after `pinCores`), so that what it spawns later (a fresh
 * workerd for a cold start, a solver on two threads) is not held to the cores it was given. */
export function unpinSelf() {
  const cores = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  execFileSync('taskset', ['-a', '-pc', `0-${cores - 1}`, String(process.pid)], { stdio: 'ignore' });
}
