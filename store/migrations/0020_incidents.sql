-- Incidents and scheduled maintenances share one table, as Statuspage models
-- a maintenance as an incident with scheduled_for/until. state says who has
-- seen it (draft → published → resolved, or rejected/withdrawn); status is the
-- public lifecycle word (investigating… resolved; scheduled… completed).
CREATE TABLE incidents (
  id                  INTEGER PRIMARY KEY,
  kind                TEXT NOT NULL CHECK (kind IN ('incident', 'maintenance')),
  state               TEXT NOT NULL CHECK (state IN ('draft', 'published', 'resolved', 'rejected', 'withdrawn')),
  status              TEXT NOT NULL,
  impact              TEXT NOT NULL,
  title               TEXT NOT NULL,
  title_ja            TEXT NOT NULL DEFAULT '',
  origin              TEXT NOT NULL CHECK (origin IN ('probe', 'alertmanager', 'manual')),
  edited              INTEGER NOT NULL DEFAULT 0,  -- an operator edited the draft: the engine stops rewriting its texts
  reason              TEXT NOT NULL DEFAULT '',    -- why it was rejected, withdrawn or cancelled
  proposal            TEXT NOT NULL DEFAULT '',    -- 'resolve' when the engine proposes resolving it
  proposal_body       TEXT NOT NULL DEFAULT '',
  proposal_body_ja    TEXT NOT NULL DEFAULT '',
  proposal_ms         INTEGER,
  created_ms          INTEGER NOT NULL,
  updated_ms          INTEGER NOT NULL,
  published_ms        INTEGER,
  monitoring_ms       INTEGER,
  resolved_ms         INTEGER,
  scheduled_for_ms    INTEGER,
  scheduled_until_ms  INTEGER,
  shortlink           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incidents_state ON incidents (state, kind);

-- The components an incident covers with their status in it: proposed while
-- a draft, public once published. since_ms is when the engine saw the
-- component leave operational (the outage it drafted for), so a restart or a
-- rejected draft never drafts the same outage twice.
CREATE TABLE incident_components (
  incident_id  INTEGER NOT NULL REFERENCES incidents(id),
  component    TEXT NOT NULL,
  status       TEXT NOT NULL,
  since_ms     INTEGER,
  position     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (incident_id, component)
) WITHOUT ROWID;
CREATE INDEX incident_components_component ON incident_components (component);

-- The timeline. A draft holds its proposed first update here; approval dates it.
CREATE TABLE incident_updates (
  id           INTEGER PRIMARY KEY,
  incident_id  INTEGER NOT NULL REFERENCES incidents(id),
  status       TEXT NOT NULL,
  body         TEXT NOT NULL,
  body_ja      TEXT NOT NULL DEFAULT '',
  created_ms   INTEGER NOT NULL,
  display_ms   INTEGER NOT NULL,
  notify       INTEGER NOT NULL DEFAULT 0,
  affected     TEXT NOT NULL DEFAULT '[]'  -- JSON [{id, old_status, new_status}]
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, id);

-- What the machines saw: failed checks (probe) or alerts (alertmanager),
-- one row per incident, source, location and check, refreshed while it lasts.
CREATE TABLE incident_evidence (
  id           INTEGER PRIMARY KEY,
  incident_id  INTEGER NOT NULL REFERENCES incidents(id),
  component    TEXT NOT NULL,
  source       TEXT NOT NULL,   -- probe | alertmanager
  probe        TEXT NOT NULL,   -- probe name, or alertname
  location     TEXT NOT NULL,
  check_name   TEXT NOT NULL,
  message      TEXT NOT NULL,
  since_ms     INTEGER NOT NULL,
  last_ms      INTEGER NOT NULL,
  count        INTEGER NOT NULL DEFAULT 1,
  vals         TEXT NOT NULL DEFAULT '{}',  -- JSON object of the stored values
  UNIQUE (incident_id, source, probe, location, check_name)
);
