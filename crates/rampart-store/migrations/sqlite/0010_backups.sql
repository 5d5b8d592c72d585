-- Backups, restores and restore drills of this node's data (`rampart backup`, `rampart
-- restore`, `rampart restore --drill`), each written with its `backup.*` audit event. The
-- posture report reads the newest backup and the newest verified restore from here.
-- `backup_id` is the backup's id from its manifest, so a restore names the backup it came
-- from; `details` is a JSON object (the archive's name and hash, what it holds, timings).
CREATE TABLE backup_records (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('backup', 'restore', 'drill')),
    backup_id   TEXT NOT NULL,
    at          BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    millis      BIGINT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX backup_records_kind_at ON backup_records (kind, at);
