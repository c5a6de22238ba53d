-- As migrations/0074_daemon_runs_holder.sql: whose run each daemon_runs
-- row is, so that a holder's start asks about its own last run only.
ALTER TABLE daemon_runs ADD COLUMN holder TEXT NOT NULL DEFAULT '';
CREATE INDEX daemon_runs_holder ON daemon_runs (holder, id);
