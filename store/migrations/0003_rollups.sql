-- Results are read per series (one probe from one location) over a time
-- range, which the primary key (series, at_ms) serves; retention deletes per
-- series too, so the index on at_ms alone only cost space.
DROP INDEX IF EXISTS results_at;

-- A closed hour of one series' results whose checks all held, packed into
-- one row (store/pack.go): ~6 bytes a result instead of ~20. Results with
-- failed checks stay in results, one row each. A rowid table, not WITHOUT
-- ROWID, so that a busy hour (a 5 s probe packs ~4 KB) stays on its page.
CREATE TABLE results_packed (
  id     INTEGER PRIMARY KEY,
  series INTEGER NOT NULL REFERENCES series(id),
  hour   INTEGER NOT NULL,   -- Unix hours (at_ms / 3600000)
  data   BLOB NOT NULL,
  UNIQUE (series, hour)
);

-- Per series and UTC hour / day: what a long uptime query reads. Kept for
-- storage.rollup_retention; recomputed (never added to) from the raw results,
-- so running the rollup again never counts twice.
CREATE TABLE rollup_hour (
  series          INTEGER NOT NULL REFERENCES series(id),
  hour            INTEGER NOT NULL,   -- Unix hours
  runs            INTEGER NOT NULL,
  successes       INTEGER NOT NULL,
  duration_sum_us INTEGER NOT NULL,
  duration_max_us INTEGER NOT NULL,
  PRIMARY KEY (series, hour)
) WITHOUT ROWID;

CREATE TABLE rollup_day (
  series          INTEGER NOT NULL REFERENCES series(id),
  day             INTEGER NOT NULL,   -- Unix days (UTC)
  runs            INTEGER NOT NULL,
  successes       INTEGER NOT NULL,
  duration_sum_us INTEGER NOT NULL,
  duration_max_us INTEGER NOT NULL,
  PRIMARY KEY (series, day)
) WITHOUT ROWID;

-- Hours whose results changed after they were rolled up (a late result) or
-- that are due for their first rollup; gen moves on each change so that the
-- housekeeping clears only the mark it has acted on.
CREATE TABLE dirty_hours (
  hour INTEGER PRIMARY KEY,
  gen  INTEGER NOT NULL
);

-- Days whose hourly rollups changed; their daily rollup is recomputed once
-- the day is closed.
CREATE TABLE dirty_days (
  day INTEGER PRIMARY KEY
);

-- Housekeeping watermarks: rolled_before_hour (every hour before it has been
-- marked for rollup), pruned_results_hour, pruned_rollup_hour, pruned_rollup_day.
CREATE TABLE store_meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
