-- Subscribers: e-mail addresses (public, double opt-in) and webhooks
-- (operator-added). A subscriber is told about the events whose components
-- meet the components it chose (subscriber_components, leaf ids).
CREATE TABLE subscribers (
  id                 INTEGER PRIMARY KEY,
  kind               TEXT NOT NULL,            -- email | webhook
  address            TEXT NOT NULL,            -- e-mail address as given, or webhook URL
  address_key        TEXT NOT NULL UNIQUE,     -- kind ':' lower-cased address: one row per address
  state              TEXT NOT NULL,            -- pending | active | unsubscribed | quarantined
  source             TEXT NOT NULL,            -- web | operator
  salt               BLOB NOT NULL,            -- per-subscriber input to its signed links
  secret             TEXT,                     -- webhook: the HMAC-SHA256 signing secret
  pending_components TEXT,                     -- JSON array awaiting confirmation; NULL when none
  confirm_sent_ms    INTEGER,                  -- when the last confirmation mail was queued
  failures           INTEGER NOT NULL DEFAULT 0, -- deliveries in a row that failed for good
  last_error         TEXT,
  created_ms         INTEGER NOT NULL,
  updated_ms         INTEGER NOT NULL,
  confirmed_ms       INTEGER
);
CREATE INDEX subscribers_state ON subscribers (state, created_ms);

CREATE TABLE subscriber_components (
  component  TEXT NOT NULL,
  subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
  PRIMARY KEY (component, subscriber)
) WITHOUT ROWID;
CREATE INDEX subscriber_components_by_subscriber ON subscriber_components (subscriber);

-- Keys for the HMACs in links, made at first start and kept, so links in
-- mails already sent stay valid across restarts.
CREATE TABLE signing_keys (
  name       TEXT PRIMARY KEY,
  key        BLOB NOT NULL,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
