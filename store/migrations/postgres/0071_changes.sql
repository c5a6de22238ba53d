-- Several holders on one database keep what they hold in memory (the public
-- page's snapshot, the incident engine's component statuses and alerts) in
-- step with what any of them commits (store/changes.go). Every change to a
-- table those are built from, by any holder, through any code path:
--   * notifies channel probed_changes (delivered at commit, to every
--     holder LISTENing on it: within milliseconds), and
--   * counts in store_changes.version, which a holder whose listening
--     connection is down polls instead (every second).
-- The count is bumped by a deferred trigger, at commit time: the row's lock
-- is held only while the transaction commits, so two holders' transactions
-- can never deadlock on it; and the poller sees a new version only once the
-- change it counts is visible.
-- evidence, deliveries, results, subscribers and the rest are read afresh by
-- every request that shows them, so they need no notice.
CREATE TABLE store_changes (
  id       BIGINT PRIMARY KEY CHECK (id = 1),
  version  BIGINT NOT NULL
);
CREATE FUNCTION probed_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO store_changes (id, version) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET version = store_changes.version + 1;
  PERFORM pg_notify('probed_changes', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER incidents_changed AFTER INSERT OR UPDATE OR DELETE ON incidents
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION probed_changed();
CREATE CONSTRAINT TRIGGER incident_components_changed AFTER INSERT OR UPDATE OR DELETE ON incident_components
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION probed_changed();
CREATE CONSTRAINT TRIGGER incident_updates_changed AFTER INSERT OR UPDATE OR DELETE ON incident_updates
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION probed_changed();
CREATE CONSTRAINT TRIGGER incident_texts_changed AFTER INSERT OR UPDATE OR DELETE ON incident_texts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION probed_changed();
CREATE CONSTRAINT TRIGGER update_texts_changed AFTER INSERT OR UPDATE OR DELETE ON update_texts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION probed_changed();
CREATE CONSTRAINT TRIGGER component_status_log_changed AFTER INSERT OR UPDATE OR DELETE ON component_status_log
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION probed_changed();
CREATE CONSTRAINT TRIGGER engine_components_changed AFTER INSERT OR UPDATE OR DELETE ON engine_components
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION probed_changed();
CREATE CONSTRAINT TRIGGER alerts_changed AFTER INSERT OR UPDATE OR DELETE ON alerts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION probed_changed();
