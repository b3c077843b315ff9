// The proxy's work in the runtime: the header lists of each direction, and the origin fetch with
// its deadline. One module for both callers: the Wasm's (`relay.rs`, `outbound.rs`, which import
// it through wasm-bindgen) and the module entry's quick lane (`src/entry.mjs`), so that both send
// the origin, and answer the client with, the same thing.
//
// What is dropped and set is decided in Rust; these functions only apply it. Names arrive
// joined by commas and values to set by line feeds, which no header name or value may hold
// (`relay.rs` refuses one that does before it gets here).

export function name_set(names) {
  return new Set(names.split(','));
}

/** The names `headers` holds that are in the set `fixed`: a fixed list is some twenty names, of
 * which a request or an answer carries a few, and a deletion is a call into the runtime. */
export function present(headers, fixed) {
  const out = [];
  for (const name of headers.keys()) if (fixed.has(name)) out.push(name);
  return out;
}

// Deletes `drop` (a list) and `extra` (joined names) from `headers`, in place.
function strip(headers, drop, extra) {
  for (const name of drop) headers.delete(name);
  if (extra) for (const name of extra.split(',')) headers.delete(name);
  return headers;
}

function with_set(headers, set) {
  if (set) {
    const pairs = set.split('\n');
    for (let i = 0; i + 1 < pairs.length; i += 2) headers.set(pairs[i], pairs[i + 1]);
  }
  return headers;
}

export function toward_origin(headers, fixed, extra, set) {
  return origin_headers(headers, present(headers, fixed), extra, set);
}

/** `toward_origin`, given the names of the fixed list that `headers` holds. */
export function origin_headers(headers, drop, extra, set) {
  return with_set(strip(new Headers(headers), drop, extra), set);
}

// The origin's status, `Connection` and session id, in one string.
export function origin_facts(response) {
  const h = response.headers;
  const session = h.get('mcp-session-id');
  return `${response.status}\n${h.get('connection') ?? ''}\n${session === null ? '' : '+' + session}`;
}

// The client's answer takes one copy of the origin's fields, its own, and edits that in place: a
// `Headers` of its own first would be a second copy of every field. One pass over the origin's
// names finds every one to drop (the fixed list, `extra`, a `Retry-After` that goes), so that only
// those it carries cost a deletion: an origin's answer carries a few fields, and the lists name
// some twenty.
export function toward_client(response, fixed, extra, drop_retry_after, set) {
  const out = new Response(response.body, { status: response.status, headers: response.headers });
  try {
    const also = extra ? extra.split(',') : [];
    const headers = out.headers;
    for (const name of response.headers.keys()) {
      if (fixed.has(name) || also.includes(name) || (drop_retry_after && name === 'retry-after')) headers.delete(name);
    }
    with_set(headers, set);
  } catch (e) {
    // Refused by the runtime (the Wasm answers it): the origin's body goes with the answer.
    out.body?.cancel();
    throw e;
  }
  return out;
}

// The race between a fetch and its deadline, in one promise of its own (rather than `finally`
// chained into `Promise.race`: two more promises and their reactions per request). It settles
// to `null` at the deadline. The deadline covers the response headers only: the timer is
// cleared as soon as they are in.
//
// `abortable`: the deadline also aborts the fetch. The proxy's fetch goes without: beside the
// timer, an abort signal cost a pass-through another 8% of its CPU per request at 8 in flight
// (bench/deadline.mjs, bench/results.md), paid by every proxied request to cut short only one
// whose origin has already failed. Without it, a hung origin's connection is let go when the
// request's context ends: once the client has its 504 and the request's own background tasks
// are done (tests/proxy.test.mjs).
export function race(input, init, ms, abortable) {
  const controller = abortable ? new AbortController() : null;
  if (controller) init.signal = controller.signal;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      controller?.abort();
      resolve(null);
    }, ms);
    fetch(input, init).then(
      (response) => {
        clearTimeout(timer);
        resolve(response);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export function fetch_with_deadline(request, ms) {
  return race(request, {}, ms, true);
}

// The proxy's fetch (the async path's; the quick lane calls `race` the same way). Redirects are
// handed back unfollowed.
export function fetch_parts_with_deadline(url, method, headers, body, ms) {
  const init = { method, headers, redirect: 'manual' };
  if (body !== undefined) init.body = body;
  return race(url, init, ms, false);
}
