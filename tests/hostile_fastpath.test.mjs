// Attacks on the fast paths: the isolate's memory of quota denials
// (gatehouse_core::quota_memo), the header copies and the origin fetch run in JavaScript, the
// one-call body read. The memory promises to answer only what the client's counter would answer,
// and to leave the repeat offender's escalation unchanged (docs/PROTOCOL.md §5). Each test here
// is a way it did not, in the version reviewed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLnbits } from '../demo/lnbits.mjs';
import { L402_ROOT_KEY, call, exhaust, post, sleep } from './support/attack.mjs';
import { startGateway, testKey } from './support/gateway.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';

const kinds = (r) => (r.body?.challenges ?? []).map((c) => c.type).sort();
const powOf = (r) => (r.body?.challenges ?? []).find((c) => c.type === 'pow');

describe('the memory of a denial answered for another time budget', () => {
  let ln, origin, gateway;
  before(async () => {
    ln = await startLnbits();
    origin = await startRecordingOrigin();
    gateway = await startGateway({
      originUrl: origin.url,
      vars: {
        RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '1', POW_ADAPTIVE: 'false',
        POW_MIN_BITS: '8', POW_BASE_BITS: '8', POW_MAX_BITS: '16', CHALLENGE_OFFERS: 'l402,pow',
        L402_BACKEND_URL: ln.url, L402_BACKEND_KEY: ln.gateway.inkey, L402_ROOT_KEY,
      },
    });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); ln?.stop(); });

  // A budget too tight for any puzzle gets the payment alone: no proof of work in the offers, so
  // the memory takes the denial as "at the hardest" whatever the escalation. The next request,
  // with no budget, is then answered from that memory without the puzzle its counter offers.
  test('a request without a time budget is offered the proof of work its counter would offer', async () => {
    const me = { 'x-api-key': testKey('budget-memo') };
    const first = await exhaust(gateway.mcpUrl, me);
    assert.deepEqual(kinds(first), ['l402', 'pow'], 'the counter offers both');
    const tight = await post(gateway.mcpUrl, call(100), { ...me, 'gatehouse-time-budget': '0.00001' });
    assert.equal(tight.status, 402);
    assert.deepEqual(kinds(tight), ['l402'], 'no puzzle fits the budget');
    const plain = await post(gateway.mcpUrl, call(101), me);
    assert.equal(plain.status, 402);
    assert.deepEqual(kinds(plain), ['l402', 'pow'], 'the same request, asked of the counter, is offered a puzzle');
  });

  // The same gap, used on purpose: every denial under a tight budget is answered from memory
  // and never reaches the counter, so recent denials stay few and the puzzle offered once the
  // budget header is dropped is as easy as for a client that asked twice.
  test('denials under a tight time budget still count toward the repeat offender escalation', async () => {
    const me = { 'x-api-key': testKey('budget-escalation') };
    const first = await exhaust(gateway.mcpUrl, me);
    const base = powOf(first).difficulty;
    for (let i = 0; i < 24; i++) {
      const r = await post(gateway.mcpUrl, call(200 + i), { ...me, 'gatehouse-time-budget': '0.00001' });
      assert.equal(r.status, 402);
    }
    // Past the memory's two seconds, the counter answers.
    await sleep(2_100);
    const later = await post(gateway.mcpUrl, call(300), me);
    assert.equal(later.status, 402);
    // 25 recent denials: (25 / 4).ilog2() + 1 = 3 extra bits (difficulty::escalate).
    assert.ok(powOf(later).difficulty >= base + 3, `puzzle at ${powOf(later).difficulty} bits after 25 denials (base ${base})`);
  });
});

describe('the memory of a denial and the address ceiling', () => {
  let origin, gateway;
  before(async () => {
    origin = await startRecordingOrigin();
    gateway = await startGateway({
      originUrl: origin.url,
      vars: {
        RATE_KEY_HEADER: 'x-user', RATE_KEY_UNVERIFIED: 'true', QUOTA_PER_MINUTE: '1',
        ADDRESS_CEILING_PER_MINUTE: '3', POW_ADAPTIVE: 'false', POW_MIN_BITS: '8', POW_BASE_BITS: '8', POW_MAX_BITS: '8',
      },
    });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); });

  // The address ceiling is asked before the client's counter, and answers 429 (no payment lifts
  // it); it counts what gets through, so denied requests do not spend it. The memory must not be
  // consulted before the ceiling, or a remembered client would keep getting a 402 with
  // challenges from an address whose ceiling is spent.
  test('a client whose address ceiling is spent gets the 429 its counter path gives', async () => {
    const a = { 'x-user': 'memo-a' };
    assert.equal((await post(gateway.mcpUrl, call(1), a)).status, 200);
    assert.equal((await post(gateway.mcpUrl, call(2), a)).status, 402, 'the quota is spent (remembered at max bits)');
    const b = { 'x-user': 'memo-b' };
    assert.equal((await post(gateway.mcpUrl, call(3), b)).status, 200, 'the ceiling takes its second call');
    assert.equal((await post(gateway.mcpUrl, call(4), { 'x-user': 'memo-c' })).status, 200, 'and its third');
    assert.equal((await post(gateway.mcpUrl, call(5), { 'x-user': 'memo-d' })).status, 429, 'the ceiling is spent for the address');
    const again = await post(gateway.mcpUrl, call(6), a);
    assert.equal(again.status, 429, `the address is over its ceiling, got ${again.status} with ${kinds(again)}`);
  });
});
