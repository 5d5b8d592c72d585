-- SAML 2.0 sign-in (user providers of kind saml).
--
-- The AuthnRequests Rampart issued: a response must answer one of them (InResponseTo), once,
-- before it expires, in the browser that started it (the SHA-256 of a secret in a cookie set
-- with the redirect, when the sign-in started over HTTPS), and goes back to the return
-- address (RelayState) stored with it.
CREATE TABLE saml_requests (
    id            TEXT PRIMARY KEY NOT NULL,
    user_provider TEXT NOT NULL,
    provider      TEXT NOT NULL CHECK (provider IN ('it', 'end')),
    relay_state   TEXT NOT NULL,
    browser_hash  TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    consumed_at   INTEGER
);
CREATE INDEX saml_requests_expires ON saml_requests (expires_at);

-- The assertions consumed, remembered until their confirmation's NotOnOrAfter (plus the
-- allowed skew), so a replayed assertion is refused on every node.
CREATE TABLE saml_assertions (
    user_provider TEXT NOT NULL,
    assertion_id  TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (user_provider, assertion_id)
);
CREATE INDEX saml_assertions_expires ON saml_assertions (expires_at);

-- The service provider's signing certificates (public): each node signs its AuthnRequests
-- with the key in its data directory, and the metadata any node serves lists them all.
CREATE TABLE saml_sp_certificates (
    fingerprint TEXT PRIMARY KEY NOT NULL,
    der         TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
