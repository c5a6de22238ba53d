-- What the on-call operator is told (notify.operator_webhooks): a draft
-- created, approved, rejected or withdrawn, a resolve proposed. The change
-- writes its operator event in its own transaction (the incident as it
-- stood, as JSON); the dispatcher later writes one delivery per configured
-- webhook that wants the kind and marks the event fanned out, in one
-- transaction; a delivery is marked sent only after the webhook answered
-- 2xx. A crash loses nothing: at least once.
CREATE TABLE operator_events (
  id             INTEGER PRIMARY KEY,
  kind           TEXT NOT NULL,      -- draft_created, draft_approved, draft_rejected, draft_withdrawn, resolve_proposed
  incident_id    INTEGER NOT NULL,
  actor          TEXT NOT NULL,      -- the token's name, or probed for the engine
  detail         TEXT NOT NULL DEFAULT '',
  incident       TEXT NOT NULL,      -- the incident after the change, JSON
  created_ms     INTEGER NOT NULL,
  fanned_out_ms  INTEGER
);
CREATE INDEX operator_events_pending ON operator_events (fanned_out_ms) WHERE fanned_out_ms IS NULL;
CREATE TABLE operator_deliveries (
  id          INTEGER PRIMARY KEY,
  event       INTEGER NOT NULL REFERENCES operator_events(id),
  webhook     TEXT NOT NULL,          -- notify.operator_webhooks[].name
  state       TEXT NOT NULL,          -- pending | sent | failed | dropped
  attempts    INTEGER NOT NULL DEFAULT 0,
  due_ms      INTEGER NOT NULL,
  created_ms  INTEGER NOT NULL,
  done_ms     INTEGER,
  last_error  TEXT
);
CREATE UNIQUE INDEX operator_deliveries_once ON operator_deliveries (event, webhook);
CREATE INDEX operator_deliveries_due ON operator_deliveries (due_ms) WHERE state = 'pending';
