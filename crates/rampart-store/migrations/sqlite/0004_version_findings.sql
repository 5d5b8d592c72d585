-- The security checks' findings of each module version, stored with it when it is published
-- (a version with an error-level finding is never published). A warning is pending until
-- someone with `change` on the module accepts it with a written justification; the
-- acceptance travels to the next version that still has the finding (`accepted_in` keeps
-- the version it was written for) and lapses with the first that does not.
CREATE TABLE version_findings (
    module_num       BIGINT NOT NULL,
    number           BIGINT NOT NULL,
    finding          TEXT NOT NULL,
    rule             TEXT NOT NULL,
    severity         TEXT NOT NULL,
    element          TEXT NOT NULL,
    message          TEXT NOT NULL,
    fix              TEXT NOT NULL,
    line             BIGINT,
    col              BIGINT,
    accepted_by      TEXT,
    accepted_by_name TEXT,
    accepted_at      BIGINT,
    accepted_in      BIGINT,
    justification    TEXT,
    PRIMARY KEY (module_num, number, finding),
    FOREIGN KEY (module_num, number) REFERENCES module_versions (module_num, number)
);
