-- The claim of an attempt under way on a delivery of the alert outbox: `claim` is the
-- token of the attempt that holds the row (a node id and a random part), `claimed_until`
-- (Unix milliseconds) when its lease runs out. A row is claimed in one conditional UPDATE
-- (free, or its lease run out: the node that held it died), so two attempts never hold it
-- at once; the attempt's outcome is written only under its own token, which releases it.
-- A request to deliver again while a claim is live is refused, and changes nothing.
ALTER TABLE alert_deliveries ADD COLUMN claim TEXT;
ALTER TABLE alert_deliveries ADD COLUMN claimed_until BIGINT;
