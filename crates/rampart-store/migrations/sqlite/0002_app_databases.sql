-- Application databases: one per environment, application and database name of the
-- entities deployed there. The data lives apart from the platform's tables (SQLite: the file
-- apps/<num>.db beside this one; PostgreSQL: the schema app_<num>), with its layout and, on
-- SQLite, the outbox of audit events its writes committed; `outbox_done` is the last of
-- those moved into the audit log (in the same transaction as the events).
CREATE TABLE app_databases (
    num         BIGINT PRIMARY KEY,
    environment TEXT NOT NULL,
    application TEXT NOT NULL,
    name        TEXT NOT NULL,
    outbox_done BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    UNIQUE (environment, application, name)
);

-- The keys of sensitive attribute values, per environment: data keys (several during a
-- rotation, by id; values name the key that sealed them) and one blind-index key, each
-- wrapped by the master key, which is never stored here.
CREATE TABLE app_keys (
    environment TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('data', 'index')),
    id          BIGINT NOT NULL,
    wrapped     BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (environment, kind, id)
);
