-- Every probe run, kept raw for storage.retention. A series is one probe seen
-- from one location; results refer to it by number to keep rows small.
CREATE TABLE series (
  id        INTEGER PRIMARY KEY,
  probe     TEXT NOT NULL,
  location  TEXT NOT NULL,
  component TEXT NOT NULL,
  kind      TEXT NOT NULL,
  UNIQUE (probe, location)
);

CREATE TABLE results (
  series      INTEGER NOT NULL REFERENCES series(id),
  at_ms       INTEGER NOT NULL,   -- run start, Unix milliseconds
  duration_us INTEGER NOT NULL,
  success     INTEGER NOT NULL,   -- 0 or 1
  failed      TEXT,               -- JSON array of the failed checks; NULL when none failed
  PRIMARY KEY (series, at_ms)
) WITHOUT ROWID;

CREATE INDEX results_at ON results (at_ms);
