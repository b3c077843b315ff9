// A spy in front of the gateway's counters: one worker whose Durable Object classes count every
// call the gateway makes to the credential counters and the client counters, forward it to the
// real object, and fail on demand (`/break`, `/mend`), so a test sees every counter call.
import { DURABLE_OBJECTS } from './gateway.mjs';

const SPY = `
let calls = { CredentialCounter: 0, GateCounter: 0 };
let broken = false;
function spy(className) {
  return class {
    constructor(state, env) { this.env = env; this.state = state; }
    async fetch(req) {
      calls[className]++;
      if (broken) throw new Error('injected fault');
      const ns = className === 'CredentialCounter' ? this.env.REAL_CREDENTIALS : this.env.REAL_COUNTERS;
      return ns.get(ns.idFromName(this.state.id.name ?? this.state.id.toString())).fetch(req);
    }
  };
}
export const SpyCredentials = spy('CredentialCounter');
export const SpyCounters = spy('GateCounter');
export default {
  async fetch(req) {
    const u = new URL(req.url);
    if (u.pathname === '/break') broken = true;
    if (u.pathname === '/mend') broken = false;
    return Response.json(calls);
  },
};`;


/** The gateway's `workerOverrides` and `extraWorkers` that put the spy in front of the counters. */
export function withCounterSpy() {
  return {
    workerOverrides: {
      durableObjects: {
        ...DURABLE_OBJECTS,
        // The real classes stay defined here, reached by the spy under these names.
        REAL_CREDENTIALS: DURABLE_OBJECTS.CREDENTIALS,
        REAL_COUNTERS: DURABLE_OBJECTS.COUNTERS,
        CREDENTIALS: { className: 'SpyCredentials', scriptName: 'spy', useSQLite: true },
        COUNTERS: { className: 'SpyCounters', scriptName: 'spy', useSQLite: true },
      },
    },
    extraWorkers: [{
      name: 'spy',
      modules: true,
      script: SPY,
      compatibilityDate: '2026-11-01',
      durableObjects: {
        SPY_C: { className: 'SpyCredentials', useSQLite: true },
        SPY_Q: { className: 'SpyCounters', useSQLite: true },
        REAL_CREDENTIALS: { className: 'CredentialCounter', scriptName: 'gatehouse', useSQLite: true },
        REAL_COUNTERS: { className: 'GateCounter', scriptName: 'gatehouse', useSQLite: true },
      },
    }],
  };
}

/** The calls counted so far (`path` `/break` or `/mend` switches the fault first). */
export const spyCalls = async (gateway, path = '/') => (await (await gateway.mf.getWorker('spy')).fetch(`http://spy${path}`)).json();
