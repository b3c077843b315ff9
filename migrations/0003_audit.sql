-- The audit trail: one row per tool call, resource read or prompt get. Times are Unix ms.
CREATE TABLE IF NOT EXISTS audit (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  ts          INTEGER NOT NULL,
  route       TEXT NOT NULL,
  identity    TEXT NOT NULL,
  sub         TEXT,
  client_id   TEXT,
  tier        TEXT,
  admitted_by TEXT,
  method      TEXT NOT NULL,
  name        TEXT,
  arguments   TEXT,
  status      INTEGER NOT NULL,
  latency_ms  INTEGER NOT NULL,
  remaining   INTEGER,
  challenge   TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (ts);
CREATE INDEX IF NOT EXISTS audit_by_identity ON audit (identity, ts);
CREATE INDEX IF NOT EXISTS audit_by_name ON audit (name, ts);
