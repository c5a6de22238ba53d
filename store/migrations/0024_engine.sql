-- The incident engine's memory, so a restart neither re-drafts an open
-- outage nor forgets a probe's run of failures.
-- One row per probe and location: hysteresis counters (capped, so a steady
-- state writes nothing) and whether it counts as down or slow.
CREATE TABLE engine_probes (
  probe      TEXT NOT NULL,
  location   TEXT NOT NULL,
  component  TEXT NOT NULL,
  down       INTEGER NOT NULL,
  slow       INTEGER NOT NULL,
  fails      INTEGER NOT NULL,
  oks        INTEGER NOT NULL,
  slows      INTEGER NOT NULL,
  since_ms   INTEGER NOT NULL,  -- when down (or up) began: the first failure of the run
  last_ms    INTEGER NOT NULL,
  checks     TEXT NOT NULL DEFAULT '[]',  -- JSON: the failed checks of the last failed run
  PRIMARY KEY (probe, location)
) WITHOUT ROWID;

-- The status the engine computes per component, and since when.
CREATE TABLE engine_components (
  component  TEXT PRIMARY KEY,
  status     TEXT NOT NULL,
  since_ms   INTEGER NOT NULL
) WITHOUT ROWID;

-- Alertmanager alerts received, keyed on fingerprint + startsAt (Alertmanager
-- retries deliveries and repeats firing alerts; the key makes both no-ops).
CREATE TABLE alerts (
  fingerprint  TEXT NOT NULL,
  starts_ms    INTEGER NOT NULL,
  component    TEXT NOT NULL,
  alertname    TEXT NOT NULL,
  status       TEXT NOT NULL,   -- firing | resolved
  comp_status  TEXT NOT NULL,   -- component status the alert stands for
  labels       TEXT NOT NULL,
  annotations  TEXT NOT NULL,
  ends_ms      INTEGER,
  received_ms  INTEGER NOT NULL,
  updated_ms   INTEGER NOT NULL,
  PRIMARY KEY (fingerprint, starts_ms)
) WITHOUT ROWID;
CREATE INDEX alerts_firing ON alerts (status, component);
