-- Every public component status interval: only published incidents and
-- maintenances in progress change it, drafts never. to_ms is NULL for the
-- interval in force. Uptime bars are computed from it (under_maintenance
-- intervals are excluded from uptime).
CREATE TABLE component_status_log (
  id           INTEGER PRIMARY KEY,
  component    TEXT NOT NULL,
  status       TEXT NOT NULL,
  from_ms      INTEGER NOT NULL,
  to_ms        INTEGER,
  incident_id  INTEGER REFERENCES incidents(id)
);
CREATE INDEX component_status_log_component ON component_status_log (component, from_ms);
CREATE UNIQUE INDEX component_status_log_open ON component_status_log (component) WHERE to_ms IS NULL;
