-- Challenges issued at quota exhaustion (PROTOCOLS §1). Times are Unix milliseconds.
-- Single use: redemption is one conditional UPDATE that sets redeemed_at only while it is NULL
-- and the challenge is unexpired, and it counts only if exactly one row changed.
CREATE TABLE IF NOT EXISTS challenges (
  id          TEXT PRIMARY KEY,
  kind        TEXT NOT NULL CHECK (kind IN ('pow', 'l402')),
  client_key  TEXT NOT NULL,
  salt        TEXT,
  difficulty  INTEGER,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  redeemed_at INTEGER
);
CREATE INDEX IF NOT EXISTS challenges_by_expiry ON challenges (expires_at);

-- Revoked access tokens by jti, kept until the token would have expired anyway.
CREATE TABLE IF NOT EXISTS revoked_tokens (
  jti        TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL,
  reason     TEXT
);
CREATE INDEX IF NOT EXISTS revoked_tokens_by_expiry ON revoked_tokens (expires_at);
