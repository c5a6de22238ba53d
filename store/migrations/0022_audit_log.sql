-- Every operator (and engine) action, written in the same transaction as the
-- action: who (the token's name, or "probed" for the engine), what, when,
-- and the incident before and after as JSON.
CREATE TABLE audit_log (
  id           INTEGER PRIMARY KEY,
  at_ms        INTEGER NOT NULL,
  actor        TEXT NOT NULL,
  action       TEXT NOT NULL,
  incident_id  INTEGER,
  detail       TEXT NOT NULL DEFAULT '',
  before       TEXT,
  after        TEXT
);
CREATE INDEX audit_log_incident ON audit_log (incident_id);
