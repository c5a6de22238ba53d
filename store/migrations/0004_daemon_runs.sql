-- When probed was up and probing: one row per daemon start, its last_seen_ms
-- moved forward by the heartbeat. A clean stop sets stopped_ms; after a crash
-- last_seen_ms is the last moment known to be covered. Time outside these
-- intervals is "no data", never uptime.
CREATE TABLE daemon_runs (
  id           INTEGER PRIMARY KEY,
  started_ms   INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  stopped_ms   INTEGER
);
