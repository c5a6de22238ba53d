-- The leader lease: one row, taken by the holder that leads for what must
-- happen once (drafting, maintenance steps, housekeeping, delivery claims).
-- epoch is the fencing token, one more on every change of holder; it is
-- UNIQUE so that a change of holder (a key update) waits for the leader's
-- fenced transactions, which hold the row FOR KEY SHARE, while a renewal
-- (expires_ms only) does not. Times are the database's clock, in ms.
CREATE TABLE leader_lease (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	epoch      BIGINT NOT NULL UNIQUE,
	since_ms   BIGINT NOT NULL,
	expires_ms BIGINT NOT NULL
);
INSERT INTO leader_lease (name, holder, epoch, since_ms, expires_ms) VALUES ('leader', '', 0, 0, 0);
-- What every holder hands the leader's incident engine: probe results and
-- Alertmanager deliveries, consumed (evaluated, then deleted by id) by the
-- leader, so no gap in the identity sequence can hide a row.
CREATE TABLE leader_inbox (
	id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind       TEXT NOT NULL,
	holder     TEXT NOT NULL,
	body       TEXT NOT NULL,
	created_ms BIGINT NOT NULL
);
