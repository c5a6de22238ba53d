-- Things subscribers are told about. An incident or maintenance change
-- writes its event row in the same transaction as the change itself; the
-- notify worker later fans each event out to the subscribers of its
-- components (and marks it fanned out in the transaction that writes the
-- per-subscriber deliveries), so a crash between the two loses nothing.
CREATE TABLE events (
  id             INTEGER PRIMARY KEY,
  kind           TEXT NOT NULL,      -- incident_published, incident_updated, incident_resolved,
                                     -- maintenance_scheduled, maintenance_started, maintenance_completed
  incident_id    INTEGER,            -- incidents and maintenances share the incidents table
  update_id      INTEGER,            -- the timeline entry the event announces
  components     TEXT NOT NULL,      -- JSON array of affected component ids
  created_ms     INTEGER NOT NULL,
  fanned_out_ms  INTEGER             -- NULL until the notify worker has written the deliveries
);
CREATE INDEX events_pending ON events (fanned_out_ms) WHERE fanned_out_ms IS NULL;
