-- As migrations/0063_delivery_sending.sql: a delivery is "sending" from just
-- before its run hands it over until its outcome is recorded.
ALTER TABLE deliveries ADD COLUMN sending BIGINT NOT NULL DEFAULT 0;
