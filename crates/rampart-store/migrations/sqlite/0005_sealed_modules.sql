-- Sealed modules: the publisher keys administrators trust, the versions imported from
-- sealed packages (the package itself, still encrypted to its environment), and, per module
-- and publisher key, the highest version number ever imported, which a deletion does not
-- lower: a package is imported only above it (no replay of an older version).
CREATE TABLE sealed_publishers (
    name       TEXT PRIMARY KEY,
    public_key TEXT NOT NULL UNIQUE,
    trusted_by TEXT NOT NULL,
    trusted_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE sealed_versions (
    module_num     INTEGER NOT NULL,
    number         INTEGER NOT NULL,
    environment    TEXT NOT NULL,
    publisher_key  TEXT NOT NULL,
    publisher_name TEXT NOT NULL,
    package        TEXT NOT NULL,
    imported_at    BIGINT NOT NULL,
    PRIMARY KEY (module_num, number),
    FOREIGN KEY (module_num, number) REFERENCES module_versions (module_num, number)
        ON DELETE CASCADE
);

CREATE TABLE sealed_watermarks (
    module_num    INTEGER NOT NULL,
    publisher_key TEXT NOT NULL,
    last_version  BIGINT NOT NULL,
    PRIMARY KEY (module_num, publisher_key)
);
