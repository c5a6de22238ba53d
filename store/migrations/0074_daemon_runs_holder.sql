-- Whose run each daemon_runs row is (storage.holder, or the host name; ''
-- for a SQLite store's one process and for runs before this migration):
-- several holders share one PostgreSQL database, and a holder starting
-- must ask whether its own last run stopped cleanly, not whichever
-- holder's run happens to be the newest.
ALTER TABLE daemon_runs ADD COLUMN holder TEXT NOT NULL DEFAULT '';
CREATE INDEX daemon_runs_holder ON daemon_runs (holder, id);
