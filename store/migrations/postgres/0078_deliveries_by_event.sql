-- As migrations/0078_deliveries_by_event.sql: the housekeeping asks
-- whether an old event has a pending delivery, and the foreign key check
-- of a deleted event reads deliveries by event, which the partial index
-- deliveries_once cannot serve.
CREATE INDEX deliveries_by_event ON deliveries (event, state);
