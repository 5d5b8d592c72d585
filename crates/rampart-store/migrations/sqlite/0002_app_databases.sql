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
