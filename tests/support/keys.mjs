// Signs a gateway API key (docs/PROTOCOL.md §6) with a TOKEN_SIGNING_KEYS value, as the admin API
// does: for tests and benchmarks that only need named clients of a gateway whose key they hold.
import { createHmac } from 'node:crypto';

export function signApiKey(signingKeys, id, tier = 'default') {
  const [kid, secret] = signingKeys.split(',')[0].split(/:(.*)/s);
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT', kid })}.${b64({ typ: 'gatehouse/api-key', id, tier, iat: Math.floor(Date.now() / 1000) })}`;
  return `gk_${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}
