-- Client tiers set through the admin API; they override the token's tier claim and
-- OAUTH_CLIENT_TIERS for that client id.
CREATE TABLE IF NOT EXISTS client_tiers (
  client_id  TEXT PRIMARY KEY,
  tier       TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Runtime policy that is safe to change live (difficulty bounds, offers), one JSON document.
CREATE TABLE IF NOT EXISTS runtime_policy (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  document   TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
