-- The support desk: companies (customers of the platform's operator), the standing of each
-- person in a company (administrator, member, or removed: a removed member opens no case and
-- sees none), cases with their comments, and the one-time Authorize/Ignore links e-mailed to
-- a company's administrators (only the SHA-256 of each token is kept). Times are UTC
-- milliseconds. Requesters and authors are not foreign keys: a case outlives its user.
CREATE TABLE support_companies (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE support_people (
    company_id TEXT NOT NULL REFERENCES support_companies (id),
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    standing   TEXT NOT NULL CHECK (standing IN ('administrator', 'member', 'removed')),
    since      BIGINT NOT NULL,
    PRIMARY KEY (company_id, user_id)
);
CREATE INDEX support_people_user ON support_people (user_id);

CREATE TABLE support_cases (
    id             TEXT PRIMARY KEY NOT NULL,
    company_id     TEXT NOT NULL REFERENCES support_companies (id),
    requester_id   TEXT NOT NULL,
    requester_name TEXT NOT NULL,
    subject        TEXT NOT NULL,
    description    TEXT NOT NULL,
    severity       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('open', 'suspended', 'closed')),
    reason         TEXT,
    ignored_at     BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX support_cases_company ON support_cases (company_id, id);
CREATE INDEX support_cases_requester ON support_cases (requester_id, company_id, created_at);
CREATE INDEX support_cases_opened ON support_cases (company_id, created_at);

CREATE TABLE support_comments (
    case_id     TEXT NOT NULL REFERENCES support_cases (id),
    seq         BIGINT NOT NULL,
    author_id   TEXT NOT NULL,
    author_name TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE support_links (
    token_hash BLOB PRIMARY KEY NOT NULL,
    case_id    TEXT NOT NULL REFERENCES support_cases (id),
    admin_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    decision   TEXT NOT NULL CHECK (decision IN ('authorize', 'ignore')),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX support_links_case ON support_links (case_id);

-- Files attached to a case, kept in the database with their SHA-256 (checked types and
-- sizes only: rampart_support::attachment), served back only as downloads.
CREATE TABLE support_attachments (
    case_id     TEXT NOT NULL REFERENCES support_cases (id),
    seq         BIGINT NOT NULL,
    name        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    content     BLOB NOT NULL,
    author_id   TEXT NOT NULL,
    author_name TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

-- The members a requester shared a case with: they see it and comment while they are
-- members of its company.
CREATE TABLE support_shares (
    case_id    TEXT NOT NULL REFERENCES support_cases (id),
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, user_id)
);
CREATE INDEX support_shares_user ON support_shares (user_id);
