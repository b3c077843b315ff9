-- x402 payments presented at the gate (docs/PROTOCOL.md §8). One row per EIP-3009 authorization,
-- keyed by the hash of network, token, payer and nonce: the row is claimed by one
-- INSERT ... ON CONFLICT DO NOTHING before the payment is verified or the origin called, and only
-- the request whose insert changed a row goes on, so a payload pays for one request however many
-- copies of it arrive at once. A claim whose payment was refused or not served is released.
CREATE TABLE IF NOT EXISTS x402_payments (
  id TEXT PRIMARY KEY,
  client_key TEXT NOT NULL,
  route TEXT NOT NULL,
  payer TEXT NOT NULL,
  amount TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  -- The authorization's validBefore, in milliseconds: past it no copy can be settled anywhere,
  -- so the purge may drop the row.
  expires_at INTEGER NOT NULL,
  -- claimed | settled | unsettled (served, but the facilitator refused to settle)
  state TEXT NOT NULL DEFAULT 'claimed',
  tx TEXT
);
CREATE INDEX IF NOT EXISTS x402_payments_expires ON x402_payments (expires_at);
