-- The hierarchy rebuilds started from the console or the API (`authz::rebuild::start`):
-- one row per rebuild, so that every node of a cluster shows the current or latest one and
-- refuses a second while one runs. `instance` is the node's row in `cluster_nodes` (the
-- process that runs it). While it runs, `state` is `running` and the node writes `checked`
-- (nodes visited, every few hundred) and `reported_at` (the database's clock, at least
-- every few seconds); a running row whose node's lease has lapsed or that has not been
-- reported for a minute is abandoned (its node died: the rebuild's transaction rolled
-- back), and the next start records it so. Ended: `rebuilt` with the report's counts,
-- `failed` with the reason, or `abandoned`. Times other than `reported_at` are Unix
-- milliseconds of the node's clock.
CREATE TABLE authz_rebuilds (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_by     TEXT NOT NULL,
    instance       TEXT NOT NULL,
    node_id        TEXT NOT NULL,
    started_at     BIGINT NOT NULL,
    total          BIGINT NOT NULL,
    phase          TEXT NOT NULL,
    checked        BIGINT NOT NULL DEFAULT 0,
    reported_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
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
-- One running rebuild at a time across every node: a second start's insert conflicts.
CREATE UNIQUE INDEX authz_rebuilds_one_running ON authz_rebuilds (state) WHERE state = 'running';
