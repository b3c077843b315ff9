// `node bench/lane-share.mjs`: how many quota-path requests the quick lane takes whole. One
// client with a roomy quota sends 2,000 tools/call, 8 in flight, through the built gateway with a
// probe counting `quick_plan`'s answers (tests/support/lane-probe.mjs); the rest went the async
// path (a lease asked of the client's counter, for one).
import { startGateway, testKey } from '../tests/support/gateway.mjs';
import { laneCountingModules, laneCounts } from '../tests/support/lane-probe.mjs';
import { startRecordingOrigin } from '../tests/support/recording-origin.mjs';

const TOTAL = Number(process.env.BENCH_REQUESTS ?? 2_000);
const origin = await startRecordingOrigin();
const vars = { RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '1000000', CALL_CEILING_PER_MINUTE: '1000000' };
const g = await startGateway({ originUrl: origin.url, vars, workerOverrides: { modules: laneCountingModules() } });
try {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-api-key': testKey('lane-share') };
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } });
  let sent = 0;
  const statuses = {};
  const worker = async () => {
    while (sent++ < TOTAL) {
      const r = await fetch(g.mcpUrl, { method: 'POST', headers, body });
      await r.text();
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const { planned, slow } = await laneCounts(g.url);
  console.log(`${TOTAL} quota-path requests, 8 in flight: statuses ${JSON.stringify(statuses)}; by the lane ${planned}, the async path ${slow}`);
} finally {
  await g.dispose();
  await origin.close();
}
