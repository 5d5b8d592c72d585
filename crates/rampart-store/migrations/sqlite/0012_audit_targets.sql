-- The distinct targets of the audit log, for free-text search: a search for text in targets
-- scans this list (far shorter than the log), then reads the matching targets' events
-- through the segmented target index. Appends add their batch's new targets in the same
-- transaction; a redaction removes a target no other event has. Derived data: rebuilt from
-- audit_events by this migration.
CREATE TABLE audit_targets (
    target TEXT PRIMARY KEY
);
INSERT INTO audit_targets (target)
    SELECT DISTINCT target FROM audit_events WHERE target IS NOT NULL;
