// Every body the JS kit reads goes through here, so its bounds live in one place:
//
// - a body the kit parses (a 402's challenges, a 401's error, an in-band answer, a redemption's
//   answer, a wallet's answer) is read to at most MAX_BODY_BYTES (64 KiB; the gateway's largest
//   is a few KiB), and must be complete within READ_DEADLINE_MS (10 s) of its headers. One that
//   is not is cut off there: the caller it is handed to gets the bytes read, then an error;
// - a request the kit sends itself has a deadline in all, headers and body: a redemption
//   REQUEST_DEADLINE_MS (30 s), a payment through the bridge's LNbits wallet
//   PAYMENT_DEADLINE_MS (60 s: a payment waits for its route);
// - a body the kit does not want is cancelled at once: never read, never awaited, never left;
// - what the stdio bridge passes on is bounded per message: a JSON body, or one event of an SSE
//   stream, at most MAX_MESSAGE_BYTES (10 MiB, the MCP SDK's own stdio cap), complete within
//   MESSAGE_DEADLINE_MS (60 s) of its first byte (a JSON body: of its headers). An SSE stream may
//   wait as long as it likes between events: a call that is never answered is the stdio
//   client's to time out, and the bridge keeps serving the others meanwhile.
//
// The body is read from the response itself, never from a clone: a tee'd stream cannot be
// cancelled while its twin is held, so a capped read of a clone would wait for ever.

export const MAX_BODY_BYTES = 65_536;
export const READ_DEADLINE_MS = 10_000;
export const REQUEST_DEADLINE_MS = 30_000;
export const PAYMENT_DEADLINE_MS = 60_000;
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
export const MESSAGE_DEADLINE_MS = 60_000;

/** Cancels `response`'s body without waiting for the cancellation (or the body) to finish. */
export function discard(response) {
  response?.body?.cancel().catch(() => {});
}

const LATE = Symbol('late');
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** A response with `response`'s status, headers and URL, and `body`. */
function like(response, body) {
  const init = { status: response.status, statusText: response.statusText, headers: response.headers };
  body = NULL_BODY.has(response.status) ? null : body;
  let out;
  try {
    out = new Response(body, init);
  } catch {
    out = new Response(body, { ...init, statusText: '' }); // a reason phrase the constructor refuses
  }
  Object.defineProperties(out, { url: { value: response.url }, redirected: { value: response.redirected } });
  return out;
}

/**
 * Reads `response`'s body: at most `maxBytes` of it, for at most `deadlineMs`. Resolves to
 * `{ bytes, problem, response }`: `bytes` is the whole body if it came within both bounds, else
 * null, and `problem` says why (`body_over_cap`, `body_past_deadline` or `body_error`).
 * `response` stands for the original, for a caller to read or `discard`: the same status and
 * headers, and the same body as far as the kit read it. A body that broke a bound is cancelled
 * there, and reading it past that point fails: no one reads on what the kit would not.
 */
export async function readCapped(response, maxBytes = MAX_BODY_BYTES, deadlineMs = READ_DEADLINE_MS) {
  if (!response.body) return { bytes: new Uint8Array(0), problem: null, response };
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  let problem = null;
  let failure;
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, deadlineMs, LATE); });
  try {
    for (;;) {
      const pending = reader.read();
      const next = await Promise.race([pending, late]);
      if (next === LATE) {
        pending.catch(() => {}); // settled by the cancel below; its outcome no longer matters
        [problem, failure] = ['body_past_deadline', new Error(`body not complete within ${deadlineMs} ms`)];
        break;
      }
      if (next.done) break;
      chunks.push(next.value);
      size += next.value.byteLength;
      if (size > maxBytes) {
        [problem, failure] = ['body_over_cap', new Error(`body over ${maxBytes} bytes`)];
        break;
      }
    }
  } catch (err) {
    [problem, failure] = ['body_error', err];
  } finally {
    clearTimeout(timer);
  }
  if (problem) {
    reader.cancel(failure).catch(() => {});
    // What was read, then the failure: the caller's body cut off where the kit stopped.
    const cut = new ReadableStream({
      pull(controller) {
        if (chunks.length) controller.enqueue(chunks.shift());
        else controller.error(failure);
      },
    });
    return { bytes: null, problem, response: like(response, cut) };
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.byteLength; }
  return { bytes, problem, response: like(response, bytes) };
}

/** `bytes` as JSON, or null when there are none or they are not JSON. */
export function parseJson(bytes) {
  if (!bytes) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Reads `response` for the kit alone: its JSON body within the bounds, or null; the body is finished with. */
export async function readJson(response, maxBytes, deadlineMs) {
  const { bytes, response: rest } = await readCapped(response, maxBytes, deadlineMs);
  discard(rest);
  return parseJson(bytes);
}

/** `init` with a signal that also aborts after `ms`, so a request the kit sends cannot hang it. */
export function withDeadline(init, ms) {
  const timeout = AbortSignal.timeout(ms);
  return { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout };
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * `response` with its body bounded per message, for a reader that is not the kit (the MCP SDK
 * under the bridge): over `maxBytes` in one message, or one message not complete within
 * `deadlineMs`, and the body fails there and the connection is cancelled. An SSE body's
 * messages are its events (each ends at an empty line); any other body is one message, timed
 * from its headers.
 */
export function limitMessages(response, maxBytes = MAX_MESSAGE_BYTES, deadlineMs = MESSAGE_DEADLINE_MS) {
  if (!response.body) return response;
  const events = /^text\/event-stream\b/i.test(response.headers.get('content-type') ?? '');
  const reader = response.body.getReader();
  let size = 0; // bytes of the message under way
  let timer = null;
  let failed = false;
  let lineStart = true; // the last byte ended a line (or nothing came yet)
  let afterCr = false; // the last byte was a CR, whose LF would end the same line
  let controller;

  const fail = (message) => {
    if (failed) return;
    failed = true;
    clearTimeout(timer);
    const err = new Error(message);
    controller.error(err);
    reader.cancel(err).catch(() => {});
  };
  const begin = () => {
    timer ??= setTimeout(() => fail(`a message not complete within ${deadlineMs} ms`), deadlineMs);
    timer.unref?.();
  };
  const end = () => {
    clearTimeout(timer);
    timer = null;
    size = 0;
  };
  /** Counts `chunk` into the messages under way; false once one is over the cap. */
  const count = (chunk) => {
    if (!events) {
      size += chunk.byteLength;
      return size <= maxBytes;
    }
    for (const b of chunk) {
      if (b === LF && afterCr) { afterCr = false; continue; }
      afterCr = b === CR;
      if (b === LF || b === CR) {
        if (lineStart) end(); // an empty line: the event is complete
        lineStart = true;
        if (timer === null) continue;
      } else {
        lineStart = false;
        begin();
      }
      if (++size > maxBytes) return false;
    }
    return true;
  };

  const body = new ReadableStream({
    start(c) {
      controller = c;
      if (!events) begin();
    },
    async pull(c) {
      let next;
      try {
        next = await reader.read();
      } catch (err) {
        if (!failed) { failed = true; clearTimeout(timer); c.error(err); }
        return;
      }
      if (failed) return;
      if (next.done) {
        clearTimeout(timer);
        c.close();
      } else if (count(next.value)) {
        c.enqueue(next.value);
      } else {
        fail(`a message over ${maxBytes} bytes`);
      }
    },
    cancel(reason) {
      failed = true;
      clearTimeout(timer);
      reader.cancel(reason).catch(() => {});
    },
  });
  return like(response, body);
}

