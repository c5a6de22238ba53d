-- Which sender takes a delivery (email or webhook, the subscriber's kind),
-- so each sender's claim reads its own rows through an index instead of
-- scanning the other's (100,000 pending mails made every idle webhook
-- sender's poll a full scan).
ALTER TABLE deliveries ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
UPDATE deliveries SET channel = (SELECT kind FROM subscribers s WHERE s.id = deliveries.subscriber);
CREATE INDEX deliveries_channel_due ON deliveries (channel, due_ms) WHERE state = 'pending';
