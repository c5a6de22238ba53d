-- PostgreSQL only (migrations/postgres/0077_engine_view_changes.sql): what
-- lets a follower of several holders read only what changed of the
-- incident engine's saved state. One process holds a SQLite file and never
-- follows, so nothing changes here.
SELECT 1;
