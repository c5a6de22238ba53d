-- Per-probe memory kept across runs and restarts (last CRL number, previous serials).
CREATE TABLE probe_state (
  probe      TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      BLOB NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (probe, key)
) WITHOUT ROWID;
