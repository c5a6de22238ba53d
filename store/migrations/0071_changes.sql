-- PostgreSQL only (migrations/postgres/0071_changes.sql): a change counter
-- and notifications that keep several holders on one database in step. One
-- process holds a SQLite file and hears of its own changes in memory, so
-- nothing changes here.
SELECT 1;
