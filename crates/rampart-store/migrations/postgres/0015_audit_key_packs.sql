-- Level-0 search keys packed per block (see the SQLite migration and
-- `crates/rampart-store/src/audit/keys.rs`).
CREATE TABLE audit_key_packs (
    first_seq BIGINT PRIMARY KEY,
    keys      BYTEA NOT NULL
);
