-- Authorization: application roles, groups, hierarchies, ACL entities, records and grants.
--
-- Every authorization write takes the next revision from authz_revision (which serialises
-- writers on PostgreSQL through the row lock) and appends its change to authz_changes in the
-- same transaction; every node applies authz_changes in revision order to its in-memory index.

CREATE TABLE authz_revision (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO authz_revision (id, revision) VALUES (1, 0);

CREATE TABLE authz_changes (
    revision    BIGINT PRIMARY KEY,
    occurred_at BIGINT NOT NULL,
    change      TEXT NOT NULL
);

-- Numbers handed out once and never reused (a reused number would inherit old grants).
CREATE TABLE authz_counters (
    name TEXT PRIMARY KEY NOT NULL,
    next BIGINT NOT NULL
);

-- A user's number in the authorization index; user_id becomes NULL when the user is deleted.
CREATE TABLE authz_users (
    num     BIGINT PRIMARY KEY,
    user_id TEXT UNIQUE REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE authz_groups (
    num         BIGINT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    source      TEXT NOT NULL DEFAULT 'local',
    created_at  BIGINT NOT NULL
);

CREATE TABLE authz_group_members (
    group_num BIGINT NOT NULL REFERENCES authz_groups (num) ON DELETE CASCADE,
    user_num  BIGINT NOT NULL REFERENCES authz_users (num),
    PRIMARY KEY (group_num, user_num)
);
CREATE INDEX authz_group_members_user ON authz_group_members (user_num);

CREATE TABLE authz_hierarchies (
    num        BIGINT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('reports_to', 'units')),
    created_at BIGINT NOT NULL
);

-- Nodes of every hierarchy. In a reports-to hierarchy node_num is the user's number. `path`
-- is the materialised path from the root: 8 hex digits per level, so "everyone under X" is
-- the range path >= X.path AND path < successor(X.path), answered from an index.
CREATE TABLE authz_nodes (
    hierarchy_num BIGINT NOT NULL REFERENCES authz_hierarchies (num) ON DELETE CASCADE,
    node_num      BIGINT NOT NULL,
    node_key      TEXT NOT NULL,
    parent_num    BIGINT,
    path          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (hierarchy_num, node_num),
    UNIQUE (hierarchy_num, node_key)
);
CREATE INDEX authz_nodes_path ON authz_nodes (hierarchy_num, path, node_num);
CREATE INDEX authz_nodes_parent ON authz_nodes (hierarchy_num, parent_num);

-- Where users sit in unit-like hierarchies (units, branches); a user may sit in several.
CREATE TABLE authz_unit_members (
    hierarchy_num BIGINT NOT NULL,
    node_num      BIGINT NOT NULL,
    user_num      BIGINT NOT NULL REFERENCES authz_users (num),
    PRIMARY KEY (hierarchy_num, node_num, user_num),
    FOREIGN KEY (hierarchy_num, node_num) REFERENCES authz_nodes (hierarchy_num, node_num) ON DELETE CASCADE
);
CREATE INDEX authz_unit_members_user ON authz_unit_members (user_num);

CREATE TABLE acl_entities (
    num             BIGINT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    public_actions  BIGINT NOT NULL,
    owner_hierarchy BIGINT REFERENCES authz_hierarchies (num),
    grants          BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL
);

-- Records under ACL: the facts a decision needs (owner) and the key lists are sorted by.
CREATE TABLE acl_records (
    entity_num BIGINT NOT NULL REFERENCES acl_entities (num) ON DELETE CASCADE,
    record_num BIGINT NOT NULL,
    record_key TEXT COLLATE "C" NOT NULL,
    owner_num  BIGINT,
    PRIMARY KEY (entity_num, record_num),
    UNIQUE (entity_num, record_key)
);
CREATE INDEX acl_records_owner ON acl_records (entity_num, owner_num, record_key);

-- Explicit grants (the seed's CustomerACL): record x principal x actions (1 read, 2 write).
-- The record's key is repeated here so that "the first page of what this principal was
-- granted" is one ordered index range, with no lookup of every granted record.
CREATE TABLE acl_grants (
    entity_num BIGINT NOT NULL,
    record_num BIGINT NOT NULL,
    principal  BIGINT NOT NULL,
    actions    BIGINT NOT NULL,
    record_key TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (entity_num, record_num, principal),
    FOREIGN KEY (entity_num, record_num) REFERENCES acl_records (entity_num, record_num) ON DELETE CASCADE
);
CREATE INDEX acl_grants_principal ON acl_grants (entity_num, principal, record_key, actions);

CREATE TABLE authz_applications (
    num         BIGINT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE authz_app_roles (
    num         BIGINT PRIMARY KEY,
    app_num     BIGINT NOT NULL REFERENCES authz_applications (num) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT,
    UNIQUE (app_num, name)
);

CREATE TABLE authz_role_grants (
    role_num   BIGINT NOT NULL REFERENCES authz_app_roles (num) ON DELETE CASCADE,
    principal  BIGINT NOT NULL,
    until      BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (role_num, principal)
);
CREATE INDEX authz_role_grants_principal ON authz_role_grants (principal);
