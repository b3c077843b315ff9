-- One payment, one grant: an L402 challenge remembers its macaroon's token id, so that redeeming
-- the preimage at the redemption endpoint and spending the credential can be told to be the same
-- payment (the credential's counter decides which came first).
ALTER TABLE challenges ADD COLUMN token_id TEXT;
