-- The OpenID provider signs with two algorithms: RS256 (OpenID Connect's required default
-- for ID tokens) and ES256 (access tokens, and ID tokens of clients registered for it).
-- Each key is of one algorithm; a rotation replaces the keys of each algorithm with a new
-- one. A client's ID tokens are signed with the algorithm it was registered with.
-- `sealed`: the private key is sealed under the server's master key (`[keys] master_key`)
-- rather than stored as plain PKCS#8, which a node without a master key does.
ALTER TABLE idp_keys ADD COLUMN alg TEXT NOT NULL DEFAULT 'ES256';
ALTER TABLE idp_keys ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE idp_clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256';
