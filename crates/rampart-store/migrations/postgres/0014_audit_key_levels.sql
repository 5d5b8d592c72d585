-- The search keys of block events become a small log-structured merge tree inside the
-- database (see the SQLite migration and `crates/rampart-store/src/audit/keys.rs`).
CREATE TABLE audit_key_levels (
    level BIGINT PRIMARY KEY CHECK (level BETWEEN 0 AND 7),
    bits  BIGINT NOT NULL CHECK (bits BETWEEN 1 AND 62),
    upto  BIGINT NOT NULL DEFAULT 0 CHECK (upto >= 0)
);
INSERT INTO audit_key_levels (level, bits) VALUES
    (0, 12), (1, 18), (2, 24), (3, 30), (4, 36), (5, 42), (6, 48), (7, 54);

CREATE TABLE audit_key_merges (
    level    BIGINT PRIMARY KEY CHECK (level BETWEEN 0 AND 6),
    next_key BIGINT NOT NULL
);

-- Keys written before: all level 0 (the compaction merges them from the next start).
UPDATE audit_keys SET seg = (15::BIGINT << 48) | (seq >> 12);
