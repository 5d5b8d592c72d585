-- The hierarchy rebuilds started from the console or the API (see the PostgreSQL
-- migration). A SQLite store belongs to one process, which keeps a running rebuild's
-- progress in memory (its write transaction holds the only writer): `checked` and
-- `reported_at` are written when it ends, and a running row of another process (one that
-- stopped mid-rebuild) is abandoned.
CREATE TABLE authz_rebuilds (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    started_by     TEXT NOT NULL,
    instance       TEXT NOT NULL,
    node_id        TEXT NOT NULL,
    started_at     BIGINT NOT NULL,
    total          BIGINT NOT NULL,
    phase          TEXT NOT NULL,
    checked        BIGINT NOT NULL DEFAULT 0,
    reported_at    BIGINT NOT NULL DEFAULT 0,
    state          TEXT NOT NULL,
    finished_at    BIGINT,
    hierarchies    BIGINT,
    paths_fixed    BIGINT,
    cycles_broken  BIGINT,
    grants         BIGINT,
    records        BIGINT,
    took_ms        BIGINT,
    error          TEXT
);
CREATE UNIQUE INDEX authz_rebuilds_one_running ON authz_rebuilds (state) WHERE state = 'running';
