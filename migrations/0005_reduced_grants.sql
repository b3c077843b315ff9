-- A proof of work offered under a tight time budget buys a reduced grant (fewer tools, longer life).
ALTER TABLE challenges ADD COLUMN reduced INTEGER NOT NULL DEFAULT 0;
