-- Materialised paths move to a narrow table of their own. Moving a subtree rewrites one path
-- per node moved; here that row version has two index entries, where in `authz_nodes` it had
-- four (PostgreSQL adds a new entry to every index for an update that changes an indexed
-- column). Paths are 4 bytes per level, big-endian, so byte order is numeric order and
-- "everyone under X" is the range path > X.path AND path < X.path || '\xffffffff'.
CREATE TABLE authz_node_paths (
    hierarchy_num BIGINT NOT NULL,
    node_num      BIGINT NOT NULL,
    path          BYTEA NOT NULL,
    PRIMARY KEY (hierarchy_num, node_num),
    FOREIGN KEY (hierarchy_num, node_num) REFERENCES authz_nodes (hierarchy_num, node_num) ON DELETE CASCADE
);
INSERT INTO authz_node_paths (hierarchy_num, node_num, path)
    SELECT hierarchy_num, node_num, decode(path, 'hex') FROM authz_nodes;
CREATE INDEX authz_node_paths_path ON authz_node_paths (hierarchy_num, path) INCLUDE (node_num);
ALTER TABLE authz_nodes DROP COLUMN path;
