-- A counter that every committed change which can end a session or change what a session's
-- user looks like (logout, revocation, password, disable, delete, profile, administrator
-- flag) bumps in its own transaction. Nodes sharing the database read it with the
-- authorization revision and the deployments in one statement before they trust sessions
-- they hold in memory: an entry cached under an older value is read again.
CREATE TABLE credentials_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO credentials_epoch (id, epoch) VALUES (1, 0);
