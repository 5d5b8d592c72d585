-- The leaf hashes of each complete tile (256 × 32 bytes, in order) beside its root, so an
-- inclusion proof reads one row of 8 KiB instead of 256 event rows spread over the log's
-- pages. Derived data like the root: NULL for tiles stored before this version (proofs then
-- read the events), and checked against the events by the server's scheduled verification.
ALTER TABLE audit_tiles ADD COLUMN leaves BYTEA;
