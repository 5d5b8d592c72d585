-- The schema of Rampart's SQLite database, in one baseline: nothing had been released
-- before it, so earlier migrations were squashed into it. Later changes are new migrations.
-- Times are UTC milliseconds.

-- ===== Users, password history, login throttling and sessions =====

-- Foundation: principals of both providers, sessions, login throttling and the audit outbox.
-- Times are UTC milliseconds since the Unix epoch in every table and on every backend.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    provider            TEXT NOT NULL CHECK (provider IN ('it', 'end')),
    username            TEXT NOT NULL,
    username_norm       TEXT NOT NULL,
    display_name        TEXT,
    email               TEXT,
    password_hash       TEXT NOT NULL,
    password_changed_at INTEGER NOT NULL,
    disabled            INTEGER NOT NULL DEFAULT 0,
    last_login_at       INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (provider, username_norm)
);
CREATE UNIQUE INDEX users_provider_email ON users (provider, email);

CREATE TABLE it_role_assignments (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE password_history (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, created_at);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    source       TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_attempts (
    provider        TEXT NOT NULL,
    username_norm   TEXT NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    locked_until    INTEGER,
    PRIMARY KEY (provider, username_norm)
);

-- Every change's audit event is written here in the change's own transaction.
CREATE TABLE audit_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    stream      TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    outcome     TEXT NOT NULL,
    request_id  TEXT,
    source      TEXT,
    node_id     TEXT NOT NULL,
    details     TEXT NOT NULL
);

-- ===== Authorization =====

-- Authorization: application roles, groups, hierarchies, ACL entities, records and grants.
--
-- Every authorization write takes the next revision from authz_revision (which serialises
-- writers on PostgreSQL through the row lock) and appends its change to authz_changes in the
-- same transaction; every node applies authz_changes in revision order to its in-memory index.

CREATE TABLE authz_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO authz_revision (id, revision) VALUES (1, 0);

CREATE TABLE authz_changes (
    revision    INTEGER PRIMARY KEY,
    occurred_at INTEGER NOT NULL,
    change      TEXT NOT NULL
);

-- Numbers handed out once and never reused (a reused number would inherit old grants).
CREATE TABLE authz_counters (
    name TEXT PRIMARY KEY NOT NULL,
    next INTEGER NOT NULL
);

-- A user's number in the authorization index; user_id becomes NULL when the user is deleted.
CREATE TABLE authz_users (
    num     INTEGER PRIMARY KEY,
    user_id TEXT UNIQUE REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE authz_groups (
    num         INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    source      TEXT NOT NULL DEFAULT 'local',
    created_at  INTEGER NOT NULL
);

CREATE TABLE authz_group_members (
    group_num INTEGER NOT NULL REFERENCES authz_groups (num) ON DELETE CASCADE,
    user_num  INTEGER NOT NULL REFERENCES authz_users (num),
    PRIMARY KEY (group_num, user_num)
);
CREATE INDEX authz_group_members_user ON authz_group_members (user_num);

CREATE TABLE authz_hierarchies (
    num        INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('reports_to', 'units')),
    created_at INTEGER NOT NULL
);

-- Nodes of every hierarchy. In a reports-to hierarchy node_num is the user's number; the
-- materialised paths are in authz_node_paths.
CREATE TABLE authz_nodes (
    hierarchy_num INTEGER NOT NULL REFERENCES authz_hierarchies (num) ON DELETE CASCADE,
    node_num      INTEGER NOT NULL,
    node_key      TEXT NOT NULL,
    parent_num    INTEGER,
    PRIMARY KEY (hierarchy_num, node_num),
    UNIQUE (hierarchy_num, node_key)
);
CREATE INDEX authz_nodes_parent ON authz_nodes (hierarchy_num, parent_num);

-- Where users sit in unit-like hierarchies (units, branches); a user may sit in several.
CREATE TABLE authz_unit_members (
    hierarchy_num INTEGER NOT NULL,
    node_num      INTEGER NOT NULL,
    user_num      INTEGER NOT NULL REFERENCES authz_users (num),
    PRIMARY KEY (hierarchy_num, node_num, user_num),
    FOREIGN KEY (hierarchy_num, node_num) REFERENCES authz_nodes (hierarchy_num, node_num) ON DELETE CASCADE
);
CREATE INDEX authz_unit_members_user ON authz_unit_members (user_num);

CREATE TABLE acl_entities (
    num             INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    public_actions  INTEGER NOT NULL,
    owner_hierarchy INTEGER REFERENCES authz_hierarchies (num),
    grants          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);

-- Records under ACL: the facts a decision needs (owner) and the key lists are sorted by.
CREATE TABLE acl_records (
    entity_num INTEGER NOT NULL REFERENCES acl_entities (num) ON DELETE CASCADE,
    record_num INTEGER NOT NULL,
    record_key TEXT NOT NULL,
    owner_num  INTEGER,
    PRIMARY KEY (entity_num, record_num),
    UNIQUE (entity_num, record_key)
);
CREATE INDEX acl_records_owner ON acl_records (entity_num, owner_num, record_key);

-- Explicit grants (the seed's CustomerACL): record x principal x actions (1 read, 2 write).
-- The record's key is repeated here so that "the first page of what this principal was
-- granted" is one ordered index range, with no lookup of every granted record.
CREATE TABLE acl_grants (
    entity_num INTEGER NOT NULL,
    record_num INTEGER NOT NULL,
    principal  INTEGER NOT NULL,
    actions    INTEGER NOT NULL,
    record_key TEXT NOT NULL,
    PRIMARY KEY (entity_num, record_num, principal),
    FOREIGN KEY (entity_num, record_num) REFERENCES acl_records (entity_num, record_num) ON DELETE CASCADE
);
CREATE INDEX acl_grants_principal ON acl_grants (entity_num, principal, record_key, actions);

-- IT teams, which own applications.
CREATE TABLE it_teams (
    num        INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE authz_applications (
    num         INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at  INTEGER NOT NULL,
    team_num    INTEGER REFERENCES it_teams (num)
);

CREATE TABLE authz_app_roles (
    num         INTEGER PRIMARY KEY,
    app_num     INTEGER NOT NULL REFERENCES authz_applications (num) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT,
    UNIQUE (app_num, name)
);

CREATE TABLE authz_role_grants (
    role_num   INTEGER NOT NULL REFERENCES authz_app_roles (num) ON DELETE CASCADE,
    principal  INTEGER NOT NULL,
    until      INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (role_num, principal)
);
CREATE INDEX authz_role_grants_principal ON authz_role_grants (principal);

-- ===== IT permissions =====

-- IT permissions: teams owning applications, modules, role levels per environment (only
-- the levels changed from the built-in defaults), and per-user overrides.

CREATE TABLE it_role_levels (
    role        TEXT NOT NULL,
    environment TEXT NOT NULL,
    level       TEXT NOT NULL,
    PRIMARY KEY (role, environment)
);

CREATE TABLE it_team_members (
    team_num INTEGER NOT NULL REFERENCES it_teams (num) ON DELETE CASCADE,
    user_num INTEGER NOT NULL REFERENCES authz_users (num),
    role     TEXT NOT NULL,
    PRIMARY KEY (team_num, user_num)
);

CREATE TABLE it_modules (
    num        INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    app_num    INTEGER NOT NULL REFERENCES authz_applications (num),
    created_at INTEGER NOT NULL
);

-- environment '*' means every environment.
CREATE TABLE it_overrides (
    user_num    INTEGER NOT NULL REFERENCES authz_users (num),
    scope       TEXT NOT NULL CHECK (scope IN ('module', 'application')),
    scope_num   INTEGER NOT NULL,
    environment TEXT NOT NULL,
    level       TEXT NOT NULL,
    PRIMARY KEY (user_num, scope, scope_num, environment)
);

-- ===== Materialised paths of hierarchy nodes =====

-- Materialised paths live in a narrow table of their own. Moving a subtree rewrites one path
-- per node moved; here that row is one primary-key entry and one path-index entry, where in
-- `authz_nodes` it would be a table row and four index entries (the key and parent indexes do not
-- change on a move). Paths are 4 bytes per level, big-endian, so byte order is numeric
-- order and "everyone under X" is the range path > X.path AND path < X.path || x'ffffffff'.
CREATE TABLE authz_node_paths (
    hierarchy_num INTEGER NOT NULL,
    node_num      INTEGER NOT NULL,
    path          BLOB NOT NULL,
    PRIMARY KEY (hierarchy_num, node_num),
    FOREIGN KEY (hierarchy_num, node_num) REFERENCES authz_nodes (hierarchy_num, node_num) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX authz_node_paths_path ON authz_node_paths (hierarchy_num, path);

-- ===== The audit log =====

-- The tamper-evident audit log: the events of all three streams (`system`, `integration`,
-- `access`) as the leaves of one RFC 9162 Merkle tree.
--
-- `seq` is the leaf's position plus one. It is taken from `audit_head` inside the
-- transaction that writes the event, so sequence numbers have no gaps and follow commit
-- order (on PostgreSQL the head row's lock serialises event writers until they commit).
-- `body` is the canonical JSON of the event, the leaf's data; `leaf_hash` is kept apart so a
-- lawful erasure can clear the body (and the columns copied from it for search) without
-- breaking any proof: the erased leaf then verifies as "redacted".
-- `last_at` is the time of the newest event: an event's time is raised to it when earlier,
-- so times never go backwards along the log and a time window is a range of numbers.
CREATE TABLE audit_head (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    size    INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    -- Events 1 to this number have moved to archive segments (payloads gone, leaves kept).
    archived_upto INTEGER NOT NULL
);
INSERT INTO audit_head (id, size, last_at, archived_upto) VALUES (1, 0, 0, 0);

CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    stream      TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    application TEXT,
    environment TEXT,
    outcome     TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    body        TEXT,
    leaf_hash   BLOB NOT NULL,
    redacted_at INTEGER,
    archived_in TEXT
);
-- Search. Access events are the bulk of the log, so they are not indexed by stream or action
-- (partial indexes: a search on the access stream walks the log newest first, and nearly
-- every event it meets matches). Actor and target are indexed within segments of 65,536
-- events (`seq >> 16` first): new entries land in the newest segment's small part of the
-- tree, which stays in cache, instead of anywhere among millions of keys, which is what
-- made random-key indexes the cost of ingest; a search probes segments newest first.
CREATE INDEX audit_events_stream ON audit_events (stream, seq) WHERE stream <> 'access';
CREATE INDEX audit_events_action ON audit_events (action, seq) WHERE stream <> 'access';
CREATE INDEX audit_events_actor ON audit_events ((seq >> 16), actor_name, seq);
CREATE INDEX audit_events_target ON audit_events ((seq >> 16), target, seq);
CREATE INDEX audit_events_time ON audit_events (occurred_at, seq);

-- Level-8 subtree roots (one per complete tile of 256 leaves), so a node restarts without
-- rehashing the whole log. Derived data: the verifier recomputes them from the leaves.
-- The leaf hashes of each complete tile (256 × 32 bytes, in order) beside its root, so an
-- inclusion proof reads one row of 8 KiB instead of 256 event rows spread over the log's
-- pages. Derived data like the root: NULL when not stored (proofs then read the events), and checked against the events by the server's scheduled verification.
CREATE TABLE audit_tiles (
    tile INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    leaves BLOB
);

-- Signed checkpoints (C2SP signed note over a tlog-checkpoint body).
CREATE TABLE audit_checkpoints (
    size      INTEGER PRIMARY KEY,
    root      BLOB NOT NULL,
    note      TEXT NOT NULL,
    signed_at INTEGER NOT NULL
);

-- ===== Module versions and deployments =====

-- Module versions and deployments.
--
-- A version is immutable and content-addressed (`digest` = SHA-256 of its source); its
-- number counts from 1 per module. `model` is the parsed module as canonical JSON,
-- `surface` its public elements (all an IT user with `reference` sees), `uses` the public
-- elements of other modules it depends on ({module: {kind: [names]}}).
CREATE TABLE module_versions (
    module_num  INTEGER NOT NULL REFERENCES it_modules (num),
    number      INTEGER NOT NULL,
    digest      TEXT NOT NULL,
    source      TEXT NOT NULL,
    model       TEXT NOT NULL,
    surface     TEXT NOT NULL,
    uses        TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    author_name TEXT NOT NULL,
    message     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (module_num, number),
    UNIQUE (module_num, digest)
);

-- What runs where: one version of a module per environment. `deployment` is the history
-- row that put it there.
CREATE TABLE deployed (
    environment TEXT NOT NULL,
    module_num  INTEGER NOT NULL REFERENCES it_modules (num),
    number      INTEGER NOT NULL,
    deployment  INTEGER NOT NULL,
    PRIMARY KEY (environment, module_num),
    FOREIGN KEY (module_num, number) REFERENCES module_versions (module_num, number)
);
CREATE INDEX deployed_version ON deployed (module_num, number);

-- Every deployment, staging and rollback, in order: what replaced what, who did it.
CREATE TABLE deployments (
    id          INTEGER PRIMARY KEY,
    environment TEXT NOT NULL,
    module_num  INTEGER NOT NULL REFERENCES it_modules (num),
    number      INTEGER NOT NULL,
    previous    INTEGER,
    kind        TEXT NOT NULL CHECK (kind IN ('deploy', 'stage', 'rollback')),
    source_env  TEXT,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX deployments_env ON deployments (environment, id);
CREATE INDEX deployments_module ON deployments (module_num, environment, id);

-- ===== Deployment requests =====

-- Deployments waiting for a second approver (environments with that policy). `items` is the
-- checked plan as JSON: [{module, number, expected}], where `expected` is the version the
-- requester saw running (null: none). Approval applies it in the same transaction that
-- marks the request approved, and only if the environment still runs what was expected.
CREATE TABLE deployment_requests (
    id            INTEGER PRIMARY KEY,
    environment   TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('deploy', 'stage', 'rollback')),
    source_env    TEXT,
    items         TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    requester     TEXT NOT NULL,
    requested_at  INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by    TEXT,
    decider       TEXT,
    decided_at    INTEGER,
    reason        TEXT,
    -- Set when the request was made by running a deployment plan.
    plan_id      INTEGER
);
CREATE INDEX deployment_requests_env ON deployment_requests (environment, status, id);

-- ===== Application tags =====

-- Application versions: a tag names a snapshot of the versions of an application's modules
-- ({module: version}, JSON) with release notes. Tags are immutable; a tagged module version
-- cannot be deleted.
CREATE TABLE application_tags (
    app_num    INTEGER NOT NULL REFERENCES authz_applications (num),
    tag        TEXT NOT NULL,
    modules    TEXT NOT NULL,
    notes      TEXT NOT NULL,
    created_by TEXT NOT NULL,
    creator    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_num, tag)
);

-- The module versions each tag holds, so deleting one of them can be refused.
CREATE TABLE application_tag_versions (
    app_num    INTEGER NOT NULL,
    tag        TEXT NOT NULL,
    module_num INTEGER NOT NULL,
    number     INTEGER NOT NULL,
    PRIMARY KEY (app_num, tag, module_num),
    FOREIGN KEY (app_num, tag) REFERENCES application_tags (app_num, tag),
    FOREIGN KEY (module_num, number) REFERENCES module_versions (module_num, number)
);
CREATE INDEX application_tag_versions_version ON application_tag_versions (module_num, number);

-- ===== Environments =====

-- The environments in promotion order (position 0 is where modules are authored; staging
-- promotes to the next) and their lifecycle policies. Administrators replace the whole list
-- with the `set_environments` operation of /api/v1/it; every node rebuilds its index then.
CREATE TABLE it_environments (
    name                 TEXT PRIMARY KEY,
    position             INTEGER NOT NULL UNIQUE,
    separation_of_duties BOOLEAN NOT NULL,
    second_approver      BOOLEAN NOT NULL
);

INSERT INTO it_environments (name, position, separation_of_duties, second_approver) VALUES
    ('development', 0, FALSE, FALSE),
    ('quality', 1, FALSE, FALSE),
    ('production', 2, TRUE, TRUE);

-- ===== Deployment plans and environment settings =====

-- Deployment plans: applications at tagged versions, with the settings one environment
-- needs (site properties, integration endpoints, secret references: never secrets). A plan
-- is a draft until it runs; a run finishes it, leaves it waiting for a second approver, or
-- aborts it with the reason (an aborted plan can run again). `based_on` is the plan it was
-- copied from for the next environment. `applications` is JSON [{application, tag}];
-- `settings` is JSON {properties, endpoints, secrets}, each {"module.name": value}.
CREATE TABLE deployment_plans (
    id           INTEGER PRIMARY KEY,
    environment  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('draft', 'waiting', 'finished', 'aborted')),
    applications TEXT NOT NULL,
    settings     TEXT NOT NULL,
    notes        TEXT NOT NULL,
    based_on     INTEGER REFERENCES deployment_plans (id),
    created_by   TEXT NOT NULL,
    creator      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    runs         INTEGER NOT NULL DEFAULT 0,
    request_id   INTEGER REFERENCES deployment_requests (id),
    error        TEXT
);
CREATE INDEX deployment_plans_env ON deployment_plans (environment, id);

-- The settings in force in each environment, written in the transaction of the deployment
-- that applied them.
CREATE TABLE environment_settings (
    environment TEXT NOT NULL,
    module_num  INTEGER NOT NULL REFERENCES it_modules (num),
    kind        TEXT NOT NULL CHECK (kind IN ('property', 'endpoint', 'secret')),
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    plan_id     INTEGER NOT NULL REFERENCES deployment_plans (id),
    PRIMARY KEY (environment, module_num, kind, name)
);

-- ===== Audit targets =====

-- The distinct targets of the audit log, for free-text search: a search for text in targets
-- scans this list (far shorter than the log), then reads the matching targets' events
-- through the segmented target index. Appends add their batch's new targets in the same
-- transaction; a redaction removes a target no other event has. Derived data.
CREATE TABLE audit_targets (
    target TEXT PRIMARY KEY
);

-- ===== Audit blocks =====

-- Events appended in batches (the access pipeline) are stored in blocks of up to 256
-- consecutive events instead of a row each: their canonical bodies, one per line, compressed
-- together (LZ4), and their leaf hashes side by side. A durable append then writes about a
-- sixth of the bytes a row per event wrote (see BENCHMARKS.md, issue #4), which is what
-- bounded ingest on a disk that syncs every commit. Events written inside a change's own
-- transaction stay rows of `audit_events`; both hold disjoint numbers of the one log.
--
-- `first_at`/`last_at` are the times of the block's first and last event (times never go
-- backwards along the log, so a time is found through them); `facets` lists the block's
-- distinct low-cardinality values (`"stream:access"`, `"outcome:deny"`, …, a JSON array) so a
-- search skips blocks without them; `data` starts with a format byte (0 plain, 1 LZ4).
CREATE TABLE audit_blocks (
    first_seq INTEGER PRIMARY KEY,
    count     INTEGER NOT NULL CHECK (count BETWEEN 1 AND 256),
    first_at  INTEGER NOT NULL,
    last_at   INTEGER NOT NULL,
    facets    TEXT NOT NULL,
    leaves    BLOB NOT NULL,
    data      BLOB NOT NULL
);
CREATE INDEX audit_blocks_first_at ON audit_blocks (first_at);
CREATE INDEX audit_blocks_last_at ON audit_blocks (last_at);

-- Search keys of block events: the first 63 bits of SHA-256 over a field tag and a value
-- (actor, target, and for events outside the access stream, stream and action). Segmented
-- by 65,536 events like the row indexes, so an append writes into the newest segment only.
-- A search reads candidates here and checks each against its decoded event.
CREATE TABLE audit_keys (
    seg INTEGER NOT NULL,
    key INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (seg, key, seq)
) WITHOUT ROWID;

-- ===== Audit search keys as a merge tree =====

-- The search keys of block events become a small log-structured merge tree inside the
-- database (see `crates/rampart-store/src/audit/keys.rs`). An append writes its keys into
-- level-0 segments of 2^12 events at the right end of the index; a background compaction
-- merges 64 complete segments of a level into one of the next, key-ordered, so a search for
-- a rare actor seeks about a hundred segments of a 10 M-event log instead of 610, and each
-- key is copied once until the log passes 2^24 events (twice until 2^30).
--
-- A segment id is (15 - level) << 48 | (first seq >> bits of the level). Level L >= 1 holds
-- the keys of events [upto of level L+1, upto of level L); level 0 holds the rest. A merge
-- in progress has copied the keys below `next_key` into a segment no reader probes yet.
CREATE TABLE audit_key_levels (
    level INTEGER PRIMARY KEY CHECK (level BETWEEN 0 AND 7),
    bits  INTEGER NOT NULL CHECK (bits BETWEEN 1 AND 62),
    upto  INTEGER NOT NULL DEFAULT 0 CHECK (upto >= 0)
);
INSERT INTO audit_key_levels (level, bits) VALUES
    (0, 12), (1, 18), (2, 24), (3, 30), (4, 36), (5, 42), (6, 48), (7, 54);

CREATE TABLE audit_key_merges (
    level    INTEGER PRIMARY KEY CHECK (level BETWEEN 0 AND 6),
    next_key INTEGER NOT NULL
);

-- ===== Packed level-0 search keys =====

-- The level-0 search keys of block events move out of `audit_keys` into one packed row per
-- block: its events' keys, sorted, 9 bytes each (the key big-endian, then the event's place
-- in its block). An append then writes one row per block instead of one per key, which was
-- two thirds of its time in the database (BENCHMARKS.md, issue #4, eighth session); the
-- compaction merges packs straight into level-1 segments, so each key is inserted into the
-- index once instead of inserted, copied and deleted. A search reads the packs of the
-- events no merge has reached yet (under a level-1 segment, 2^18 events, plus any backlog).
CREATE TABLE audit_key_packs (
    first_seq INTEGER PRIMARY KEY,
    keys      BLOB NOT NULL
);

-- ===== Reserved module names =====

-- Module names reserved for an application before any module of that name is registered.
-- A name is either reserved here or registered in `it_modules`, never both: registering a
-- reserved name (by a publish or by an administrator) consumes the reservation, and only
-- the application it is reserved for may register it. Administrators reserve, transfer and
-- release names; each change is an audit event naming the application.
CREATE TABLE module_names (
    name        TEXT PRIMARY KEY,
    app_num     INTEGER NOT NULL REFERENCES authz_applications (num),
    reserved_at INTEGER NOT NULL
);
