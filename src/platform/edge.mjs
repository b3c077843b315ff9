// The proxy's work in the runtime: the header lists of each direction, and the origin fetch with
// its deadline. One module for both callers: the Wasm's (`relay.rs`, `outbound.rs`, which import
// it through wasm-bindgen) and the module entry's quick lane (`src/entry.mjs`), so that both send
// the origin, and answer the client with, the same thing.
//
// What is dropped and set is decided in Rust; these functions only apply it. Names arrive
// joined by commas and values to set by line feeds, which no header name or value may hold
// (`relay.rs` refuses one that does before it gets here).

export function name_set(names) {
  return names.split(',');
}

function without(headers, fixed, extra) {
  const out = new Headers(headers);
  for (const name of fixed) out.delete(name);
  if (extra) for (const name of extra.split(',')) out.delete(name);
  return out;
}

function with_set(headers, set) {
  if (set) {
    const pairs = set.split('\n');
    for (let i = 0; i + 1 < pairs.length; i += 2) headers.set(pairs[i], pairs[i + 1]);
  }
  return headers;
}

export function toward_origin(headers, fixed, extra, set) {
  return with_set(without(headers, fixed, extra), set);
}

// The origin's status, `Connection` and session id, in one string.
export function origin_facts(response) {
  const h = response.headers;
  const session = h.get('mcp-session-id');
  return `${response.status}\n${h.get('connection') ?? ''}\n${session === null ? '' : '+' + session}`;
}

export function toward_client(response, fixed, extra, drop_retry_after, set) {
  const headers = without(response.headers, fixed, extra);
  if (drop_retry_after) headers.delete('retry-after');
  return new Response(response.body, { status: response.status, headers: with_set(headers, set) });
}

// The race between a fetch and its deadline, in one promise of its own (rather than `finally`
// chained into `Promise.race`: two more promises and their reactions per request). It settles
// to `null` at the deadline. The deadline covers the response headers only: the timer is
// cleared as soon as they are in, and the abort is never fired after.
export function race(input, init, ms) {
  const controller = new AbortController();
  init.signal = controller.signal;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      controller.abort();
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
  return race(request, {}, ms);
}

// Redirects are handed back unfollowed.
export function fetch_parts_with_deadline(url, method, headers, body, ms) {
  const init = { method, headers, redirect: 'manual' };
  if (body !== undefined) init.body = body;
  return race(url, init, ms);
}
