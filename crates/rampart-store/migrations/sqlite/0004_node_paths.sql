-- Materialised paths move to a narrow table of their own. Moving a subtree rewrites one path
-- per node moved; here that row is one primary-key entry and one path-index entry, where in
-- `authz_nodes` it was a table row and four index entries (the key and parent indexes do not
-- change on a move). Paths are 4 bytes per level, big-endian, so byte order is numeric
-- order and "everyone under X" is the range path > X.path AND path < X.path || x'ffffffff'.
CREATE TABLE authz_node_paths (
    hierarchy_num INTEGER NOT NULL,
    node_num      INTEGER NOT NULL,
    path          BLOB NOT NULL,
    PRIMARY KEY (hierarchy_num, node_num),
    FOREIGN KEY (hierarchy_num, node_num) REFERENCES authz_nodes (hierarchy_num, node_num) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO authz_node_paths (hierarchy_num, node_num, path)
    SELECT hierarchy_num, node_num, unhex(path) FROM authz_nodes;
CREATE INDEX authz_node_paths_path ON authz_node_paths (hierarchy_num, path);
DROP INDEX authz_nodes_path;
ALTER TABLE authz_nodes DROP COLUMN path;
