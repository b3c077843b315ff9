-- A grant pays past the quota of the route that sold it, and no other: a challenge remembers the
-- route it was offered on, and the token it buys names that route.
ALTER TABLE challenges ADD COLUMN route TEXT;
