-- The nodes that decide requests from the marks they hold in memory (authorization
-- revision, credentials epoch, latest deployments) instead of reading them per request.
-- Each node holds a short lease on its row: `lease_until` (the database's clock) is renewed
-- every quarter lease, and `seen` is the point of `marks_points` the node took before it
-- last read the marks, so its memory holds every change committed before that point.
-- A change that moved the marks is answered only once every row with a live lease has
-- `seen` at or past a point taken after the change committed (or its lease ran out).
CREATE TABLE cluster_nodes (
    instance     TEXT PRIMARY KEY,
    node_id      TEXT NOT NULL,
    lease_until  TIMESTAMPTZ NOT NULL,
    seen         BIGINT NOT NULL
);

-- Points in the order of the database: a point taken after a commit is greater than any
-- taken before it.
CREATE SEQUENCE marks_points;

-- Every change that moves the marks tells the listening nodes at its commit, so they read
-- the marks again at once (directory sync and other writes that nobody waits for included).
CREATE FUNCTION marks_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rampart_marks', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER authz_revision_moved AFTER UPDATE ON authz_revision
    FOR EACH STATEMENT EXECUTE PROCEDURE marks_moved();
CREATE TRIGGER credentials_epoch_moved AFTER UPDATE ON credentials_epoch
    FOR EACH STATEMENT EXECUTE PROCEDURE marks_moved();
CREATE TRIGGER deployed_moved AFTER INSERT OR UPDATE OR DELETE ON deployed
    FOR EACH STATEMENT EXECUTE PROCEDURE marks_moved();
