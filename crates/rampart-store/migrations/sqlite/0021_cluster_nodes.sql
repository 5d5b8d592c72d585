-- The nodes sharing a PostgreSQL database and the marks each has seen (see the PostgreSQL
-- migration). A SQLite store belongs to one process, which never reads this table; it is
-- kept so both backends hold the same tables.
CREATE TABLE cluster_nodes (
    instance     TEXT PRIMARY KEY,
    node_id      TEXT NOT NULL,
    lease_until  BIGINT NOT NULL,
    seen         BIGINT NOT NULL
);
