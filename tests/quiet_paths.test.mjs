// The paths that must stay quiet: the token path does no I/O in steady state (docs/PROTOCOL.md
// §1): an isolate spends from its lease of the grant, and asks the credential's counter for the
// next lease in the background, once half of the current one is gone. And an over-quota burst is
// answered from the isolate's memory of the denial, not by the client's counter (§5). The counters are reached through a spy object that counts
// the calls and can be switched to fail, so the test sees every call the gateway makes to them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from '../demo/origin.mjs';
import { startGateway, testKey } from './support/gateway.mjs';
import { spyCalls, withCounterSpy } from './support/counter-spy.mjs';
import { exhaust, redeem, solve } from './support/pow-flow.mjs';

const GRANT = 100_000;
let origin, gateway;
before(async () => {
  origin = await startOrigin();
  gateway = await startGateway({
    originUrl: origin.url,
    vars: { QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', TOKEN_GRANT_REQUESTS: String(GRANT), TOKEN_TTL_SECONDS: '3600' },
    ...withCounterSpy(),
  });
});
after(async () => {
  await gateway?.dispose();
  await origin?.close();
});

const spy = (path) => spyCalls(gateway, path);
// An initialize, which the SDK origin answers 200 without a session.
const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'lease', version: '1' } } });
const call = (token) => fetch(gateway.mcpUrl, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-api-key': testKey('lease'), 'x-access-token': token },
  body: INITIALIZE,
});

test('after its first lease, a token is admitted with no call to any counter, and a failing counter does not stop it', async () => {
  const first = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('lease') });
  const [c] = (await first.json()).challenges;
  const { status, body } = await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: await solve(c) } }, { 'x-api-key': testKey('lease') });
  assert.equal(status, 200, JSON.stringify(body));
  const token = body.access_token;

  const beforeFirst = await spy();
  const r = await call(token);
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  const afterFirst = await spy();
  assert.equal(afterFirst.CredentialCounter - beforeFirst.CredentialCounter, 1, 'the first use waits for one lease');
  assert.equal(afterFirst.GateCounter, beforeFirst.GateCounter, 'a token never touches the quota counter');

  // Leases grow with the isolate's use (credentials/grant.rs): the first is 8 units, each
  // renewal twice what the isolate admitted in the demand window. A client that keeps calling
  // soon holds enough that its steady state is quiet.
  const admit = async (n, why) => {
    for (let i = 0; i < n; i++) {
      const res = await call(token);
      assert.equal(res.status, 200, `${why}: request ${i}`);
      await res.arrayBuffer();
    }
  };
  await admit(100, 'growing the lease');
  const grown = await spy();
  const growing = grown.CredentialCounter - afterFirst.CredentialCounter;
  assert.ok(growing >= 2 && growing <= 8, `the lease grew in a few renewals, not per request: ${growing} calls for 100 requests`);

  // By now it holds what its use says it will need: the next requests ask nothing, even with
  // the counters down.
  await spy('/break');
  const steady = 50;
  await admit(steady, 'admitted from the lease while the counters are down');
  const afterSteady = await spy('/mend');
  assert.deepEqual(afterSteady, grown, `${steady} token requests, no counter call`);

  // Past half of the lease, one renewal goes out in the background, not one per request.
  for (let i = 0; i < 60; i++) {
    const res = await call(token);
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers.get('ratelimit').match(/r=(\d+)/)?.[1] ?? -1) >= 0, true);
    await res.arrayBuffer();
  }
  await new Promise((r) => setTimeout(r, 200));
  const afterRenewal = await spy();
  assert.equal(afterRenewal.CredentialCounter - afterSteady.CredentialCounter, 1, 'one background renewal');
  assert.equal(afterRenewal.GateCounter, afterFirst.GateCounter);
});

test('an over-quota burst is answered from memory once its puzzle is at the hardest: the same 402, no counter call; a redemption forgets it', async () => {
  const key = { 'x-api-key': testKey('burst') };
  const deny = async () => {
    const r = await fetch(gateway.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...key }, body: INITIALIZE });
    return { status: r.status, retry: Number(r.headers.get('retry-after')), challenges: (await r.json()).challenges ?? [] };
  };
  await (await exhaust(gateway.mcpUrl, key)).arrayBuffer();
  // A repeat offender's puzzles grow harder with every denial, which its counter must see;
  // only at the maximum (POW_MAX_BITS, 16 by default) does the memory take over.
  let last;
  for (let i = 0; i < 20; i++) {
    const before = await spy();
    last = await deny();
    assert.equal(last.status, 402);
    const reached = (await spy()).GateCounter - before.GateCounter;
    if (last.challenges[0].difficulty < 16) assert.ok(reached >= 1, 'an escalating denial reaches the counter');
    else break;
  }
  assert.equal(last.challenges[0].difficulty, 16);
  await deny(); // remembered from here
  const offered = (await deny()).challenges.map((c) => c.challenge_id);
  const before = await spy();
  const started = Date.now();
  const burst = await Promise.all(Array.from({ length: 40 }, deny));
  const after = await spy();
  // Only meaningful while the memory holds (2 s); a slow machine may have needed one more call.
  if (Date.now() - started < 1_500) {
    assert.equal(after.GateCounter - before.GateCounter, 0, '40 denials, no counter call');
  }
  for (const r of burst) {
    assert.equal(r.status, 402);
    assert.ok(r.retry >= 1);
    assert.deepEqual(r.challenges.map((c) => c.challenge_id), offered, 'the same outstanding challenges');
  }
  const [c] = (await (await exhaust(gateway.mcpUrl, key)).json()).challenges;
  const { status } = await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: await solve(c) } }, key);
  assert.equal(status, 200);
  const next = await (await exhaust(gateway.mcpUrl, key)).json();
  assert.ok(!next.challenges.some((o) => o.challenge_id === c.challenge_id), 'a redeemed challenge is not offered again');
});
