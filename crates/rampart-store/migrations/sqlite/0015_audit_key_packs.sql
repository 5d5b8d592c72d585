-- The level-0 search keys of block events move out of `audit_keys` into one packed row per
-- block: its events' keys, sorted, 9 bytes each (the key big-endian, then the event's place
-- in its block). An append then writes one row per block instead of one per key, which was
-- two thirds of its time in the database (BENCHMARKS.md, issue #4, eighth session); the
-- compaction merges packs straight into level-1 segments, so each key is inserted into the
-- index once instead of inserted, copied and deleted. A search reads the packs of the
-- events no merge has reached yet (under a level-1 segment, 2^18 events, plus any backlog).
-- Keys written as level-0 rows before this version stay rows until merged.
CREATE TABLE audit_key_packs (
    first_seq INTEGER PRIMARY KEY,
    keys      BLOB NOT NULL
);
