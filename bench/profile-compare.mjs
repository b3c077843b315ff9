// Side by side: where the JS floor, the hardened TypeScript peer and the gateway's token path
// spend their isolate's time under the same load (profile.mjs --peers). The runtime's own work is
// split by what calls for it, so that what the gateway pays beyond the floor reads as either the
// platform's (an origin fetch built from parts, a rebuilt response, a timer for the deadline) or
// its own code's (Wasm, its JS glue, the boundary between them).
import { analyse, category } from './profile-summary.mjs';

/** The runtime's work, by what asks for it; anything else is the worker's own code. */
const PLATFORM = [
  ['origin fetch (the runtime\'s `fetch`)', /^fetch$/],
  ['Request / Response / Headers objects', /^(Request|Response|Headers|get|set|delete|append|has|entries|forEach|clone|json)$/],
  ['timers (the origin deadline)', /^(setTimeout|clearTimeout)$/],
  ['body reads and text decoding', /^(arrayBuffer|text|decode|encode|read|getReader|cancel)$/],
  ['microtasks (promise turns)', /^queueMicrotask$/],
  ['console (log lines)', /^(log|error|warn|info)$|__wbg_log/],
  ['D1 and Durable Object calls', /d1-api|^(prepare|bind|batch|run|all|first|fetch_object|idFromName|get_object)$/],
];

function rowsOf(a) {
  const out = new Map();
  const add = (k, t) => out.set(k, (out.get(k) ?? 0) + t);
  for (const f of a.fns) {
    const c = category(f.frame);
    if (!c.startsWith('platform')) {
      add(c.startsWith('JS (the worker') || c.startsWith('Wasm') || c.startsWith('JS glue') ? `own code: ${c.split(' (')[0]}` : c, f.self);
      continue;
    }
    const hit = PLATFORM.find(([, re]) => re.test(f.name) || re.test(f.frame.url));
    add(hit ? `platform: ${hit[0]}` : 'platform: other (unnamed native frames, streams, tracing)', f.self);
  }
  return out;
}

export function compare(runs, { total, concurrency }) {
  const analysed = runs.map(([title, r]) => [title, analyse(r.profiles.gateway), analyse(r.profiles.entry), r]);
  const tables = analysed.map(([, g]) => rowsOf(g));
  const keys = [...new Set(tables.flatMap((t) => [...t.keys()]))].sort((a, b) => {
    const own = (k) => (k.startsWith('platform') ? 0 : 1);
    return own(a) - own(b) || (tables.at(-1).get(b) ?? 0) - (tables.at(-1).get(a) ?? 0);
  });
  const per = (us) => (us / total).toFixed(0);
  const head = `| sampled µs/req | ${analysed.map(([t]) => t).join(' | ')} |`;
  const sep = `|---|${analysed.map(() => '---').join('|')}|`;
  const line = (k) => `| ${k} | ${tables.map((t) => per(t.get(k) ?? 0)).join(' | ')} |`;
  const sumOf = (pred) => tables.map((t) => [...t].filter(([k]) => pred(k)).reduce((s, [, v]) => s + v, 0));
  const platform = sumOf((k) => k.startsWith('platform'));
  const own = sumOf((k) => k.startsWith('own code'));
  return [
    `### Side by side: the floor, the hardened peer and the token path (${total} requests each, ${concurrency} in flight)`,
    '',
    'Each worker\'s isolate profiled in turn under the same load, in one workerd (profile.mjs `--peers`). Sampled figures carry the profiler\'s cost; compare the columns, not the absolute values.',
    '',
    head, sep,
    ...keys.filter((k) => k.startsWith('platform')).map(line),
    `| **platform, in all** | ${platform.map((v) => `**${per(v)}**`).join(' | ')} |`,
    ...keys.filter((k) => k.startsWith('own code')).map(line),
    `| **the worker's own code, in all** | ${own.map((v) => `**${per(v)}**`).join(' | ')} |`,
    ...keys.filter((k) => !k.startsWith('platform') && !k.startsWith('own code')).map(line),
    `| isolate busy | ${analysed.map(([, g]) => per(g.busy)).join(' | ')} |`,
    `| Miniflare's entry worker, busy (absent in production) | ${analysed.map(([, , e]) => per(e.busy)).join(' | ')} |`,
    `| workerd CPU from /proc, profilers running | ${analysed.map(([, , , r]) => r.cpuUs.toFixed(0)).join(' | ')} |`,
  ].join('\n');
}
