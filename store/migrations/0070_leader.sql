-- Several holders on one PostgreSQL elect a leader for what must happen once
-- (migrations/postgres/0070_leader.sql). On SQLite the one process always
-- leads: the lease is never taken and the inbox only holds what a test puts
-- there; the tables exist so both schemas keep the same shape.
CREATE TABLE leader_lease (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	epoch      INTEGER NOT NULL UNIQUE,
	since_ms   INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL
);
INSERT INTO leader_lease (name, holder, epoch, since_ms, expires_ms) VALUES ('leader', '', 0, 0, 0);
-- What every holder hands the leader's incident engine: probe results and
-- Alertmanager deliveries, consumed (evaluated, then deleted) by the leader.
CREATE TABLE leader_inbox (
	id         INTEGER PRIMARY KEY,
	kind       TEXT NOT NULL,
	holder     TEXT NOT NULL,
	body       TEXT NOT NULL,
	created_ms INTEGER NOT NULL
);
