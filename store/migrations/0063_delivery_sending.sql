-- A delivery is "sending" from just before its run hands it to the relay or
-- webhook until its outcome is recorded. A run that dies leaves only those
-- in doubt: rows it had claimed but not begun are not, so a restart counts
-- as redelivered (probed_notifications_redelivered_total) only what may
-- really have been sent already.
ALTER TABLE deliveries ADD COLUMN sending INTEGER NOT NULL DEFAULT 0;
