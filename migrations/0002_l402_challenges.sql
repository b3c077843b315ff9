-- L402 challenges are redeemed with the invoice's preimage; keep its payment hash.
ALTER TABLE challenges ADD COLUMN payment_hash TEXT;
