// The store contract (crates/gatehouse-core/src/store/contract.rs) against the real backends: D1
// and the Durable Objects in workerd. The same suite runs natively against the in-memory backends
// (`cargo test -p gatehouse-core --test store_contract`). The route is compiled only with the
// `store-contract` feature, into build-contract/ (scripts/test.sh, or
// `GATEHOUSE_OUT=build-contract GATEHOUSE_FEATURES=store-contract bash scripts/build.sh`); the
// release build has no such route at all.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTRACT_BUILD, startGateway } from './support/gateway.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';

let origin, gateway;
before(async () => {
  if (!['index_bg.wasm', 'entry.mjs', 'edge.mjs'].every((f) => existsSync(join(CONTRACT_BUILD, f)))) {
    throw new Error('no build-contract/ (or one from before src/entry.mjs): run GATEHOUSE_OUT=build-contract GATEHOUSE_FEATURES=store-contract bash scripts/build.sh');
  }
  origin = await startRecordingOrigin();
  gateway = await startGateway({ originUrl: origin.url, build: CONTRACT_BUILD, vars: { STORE_CONTRACT_ROUTE: 'enabled' } });
});
after(async () => { await gateway?.dispose(); await origin?.close(); });

test('D1 and the Durable Objects meet the store contract', async () => {
  const res = await fetch(`${gateway.url}/__store-contract`, { method: 'POST' });
  assert.equal(res.status, 200);
  const { results } = await res.json();
  assert.equal(results.length, 8);
  for (const r of results) assert.ok(r.ok, `${r.name}: ${r.error}`);
  console.log(`store contract in workerd: ${results.map((r) => r.name).join(', ')}`);
});

for (const [why, options] of [
  ['in the test build without STORE_CONTRACT_ROUTE', { build: CONTRACT_BUILD }],
  ['in the release build, even with STORE_CONTRACT_ROUTE', { vars: { STORE_CONTRACT_ROUTE: 'enabled' } }],
]) {
  test(`the contract route is absent ${why}: the path is the origin's`, async () => {
    const plain = await startGateway({ originUrl: origin.url, ...options });
    try {
      const res = await fetch(`${plain.url}/__store-contract`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).results, undefined);
      assert.equal(origin.seen.at(-1).url, '/__store-contract', 'the gate proxied it');
    } finally {
      await plain.dispose();
    }
  });
}
