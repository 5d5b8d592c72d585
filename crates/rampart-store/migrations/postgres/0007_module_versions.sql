-- Module versions and deployments.
--
-- A version is immutable and content-addressed (`digest` = SHA-256 of its source); its
-- number counts from 1 per module. `model` is the parsed module as canonical JSON,
-- `surface` its public elements (all an IT user with `reference` sees), `uses` the public
-- elements of other modules it depends on ({module: {kind: [names]}}).
CREATE TABLE module_versions (
    module_num  BIGINT NOT NULL REFERENCES it_modules (num),
    number      BIGINT NOT NULL,
    digest      TEXT NOT NULL,
    source      TEXT NOT NULL,
    model       TEXT NOT NULL,
    surface     TEXT NOT NULL,
    uses        TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    author_name TEXT NOT NULL,
    message     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (module_num, number),
    UNIQUE (module_num, digest)
);

-- What runs where: one version of a module per environment. `deployment` is the history
-- row that put it there.
CREATE TABLE deployed (
    environment TEXT NOT NULL,
    module_num  BIGINT NOT NULL REFERENCES it_modules (num),
    number      BIGINT NOT NULL,
    deployment  BIGINT NOT NULL,
    PRIMARY KEY (environment, module_num),
    FOREIGN KEY (module_num, number) REFERENCES module_versions (module_num, number)
);
CREATE INDEX deployed_version ON deployed (module_num, number);

-- Every deployment, staging and rollback, in order: what replaced what, who did it.
CREATE TABLE deployments (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment TEXT NOT NULL,
    module_num  BIGINT NOT NULL REFERENCES it_modules (num),
    number      BIGINT NOT NULL,
    previous    BIGINT,
    kind        TEXT NOT NULL CHECK (kind IN ('deploy', 'stage', 'rollback')),
    source_env  TEXT,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX deployments_env ON deployments (environment, id);
CREATE INDEX deployments_module ON deployments (module_num, environment, id);
