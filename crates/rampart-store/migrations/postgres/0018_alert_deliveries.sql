-- Alert notifications that no sink has accepted yet: one row per alert (the sequence
-- number of its `alert.<kind>` audit event) and sink (`webhook`, `email`), written in the
-- event's own transaction, deleted when the sink accepts the notification or, after the
-- last attempt, in the transaction of the `alert.delivery_failed` event. `attempts` counts
-- the attempts begun; `next_at` (Unix milliseconds) is when the next may begin, pushed
-- ahead while one is under way so that no other node begins it too; `last_error` is why
-- the last attempt failed (never a secret).
CREATE TABLE alert_deliveries (
    seq         BIGINT NOT NULL,
    sink        TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    last_error  TEXT,
    PRIMARY KEY (seq, sink)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_at);
