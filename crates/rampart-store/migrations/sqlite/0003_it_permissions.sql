-- IT permissions: teams owning applications, modules, role levels per environment (only
-- the levels changed from the built-in defaults), and per-user overrides.

CREATE TABLE it_role_levels (
    role        TEXT NOT NULL,
    environment TEXT NOT NULL,
    level       TEXT NOT NULL,
    PRIMARY KEY (role, environment)
);

CREATE TABLE it_teams (
    num        INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE it_team_members (
    team_num INTEGER NOT NULL REFERENCES it_teams (num) ON DELETE CASCADE,
    user_num INTEGER NOT NULL REFERENCES authz_users (num),
    role     TEXT NOT NULL,
    PRIMARY KEY (team_num, user_num)
);

ALTER TABLE authz_applications ADD COLUMN team_num INTEGER REFERENCES it_teams (num);

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
