-- The outbox: one row per message to send (an event to one subscriber, or a
-- confirmation mail). Rows are written in the transaction that marks their
-- event fanned out, and marked sent only after the SMTP server (or webhook)
-- accepted them, so a crash loses nothing; a row claimed by a run that died
-- (its lease names that run) may have been sent already and is counted as a
-- possible duplicate when it is sent again.
CREATE TABLE deliveries (
  id          INTEGER PRIMARY KEY,
  kind        TEXT NOT NULL,               -- event | confirm
  event       INTEGER REFERENCES events(id),
  subscriber  INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
  state       TEXT NOT NULL,               -- pending | sent | failed | dropped
  attempts    INTEGER NOT NULL DEFAULT 0,
  due_ms      INTEGER NOT NULL,            -- not before
  lease       TEXT,                        -- the worker run that claimed it
  created_ms  INTEGER NOT NULL,
  done_ms     INTEGER,
  last_error  TEXT
);
CREATE UNIQUE INDEX deliveries_once ON deliveries (event, subscriber) WHERE kind = 'event';
CREATE UNIQUE INDEX deliveries_one_confirm ON deliveries (subscriber) WHERE kind = 'confirm' AND state = 'pending';
CREATE INDEX deliveries_due ON deliveries (due_ms) WHERE state = 'pending';
CREATE INDEX deliveries_by_subscriber ON deliveries (subscriber, state);
