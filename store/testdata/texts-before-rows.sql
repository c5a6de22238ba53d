PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL);
INSERT INTO schema_migrations VALUES(1,'0001_results.sql',1793610000000);
INSERT INTO schema_migrations VALUES(2,'0002_state.sql',1793610000000);
INSERT INTO schema_migrations VALUES(3,'0003_rollups.sql',1793610000000);
INSERT INTO schema_migrations VALUES(4,'0004_daemon_runs.sql',1793610000000);
INSERT INTO schema_migrations VALUES(20,'0020_incidents.sql',1793610000000);
INSERT INTO schema_migrations VALUES(21,'0021_component_status_log.sql',1793610000000);
INSERT INTO schema_migrations VALUES(22,'0022_audit_log.sql',1793610000000);
INSERT INTO schema_migrations VALUES(23,'0023_tokens.sql',1793610000000);
INSERT INTO schema_migrations VALUES(24,'0024_engine.sql',1793610000000);
INSERT INTO schema_migrations VALUES(30,'0030_events.sql',1793610000000);
INSERT INTO schema_migrations VALUES(31,'0031_subscribers.sql',1793610000000);
INSERT INTO schema_migrations VALUES(32,'0032_deliveries.sql',1793610000000);
INSERT INTO schema_migrations VALUES(33,'0033_delivery_channel.sql',1793610000000);
INSERT INTO schema_migrations VALUES(45,'0045_subscriber_language.sql',1793610000000);
CREATE TABLE series (
  id        INTEGER PRIMARY KEY,
  probe     TEXT NOT NULL,
  location  TEXT NOT NULL,
  component TEXT NOT NULL,
  kind      TEXT NOT NULL,
  UNIQUE (probe, location)
);
CREATE TABLE results (
  series      INTEGER NOT NULL REFERENCES series(id),
  at_ms       INTEGER NOT NULL,   -- run start, Unix milliseconds
  duration_us INTEGER NOT NULL,
  success     INTEGER NOT NULL,   -- 0 or 1
  failed      TEXT,               -- JSON array of the failed checks; NULL when none failed
  PRIMARY KEY (series, at_ms)
) WITHOUT ROWID;
CREATE TABLE probe_state (
  probe      TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      BLOB NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (probe, key)
) WITHOUT ROWID;
CREATE TABLE results_packed (
  id     INTEGER PRIMARY KEY,
  series INTEGER NOT NULL REFERENCES series(id),
  hour   INTEGER NOT NULL,   -- Unix hours (at_ms / 3600000)
  data   BLOB NOT NULL,
  UNIQUE (series, hour)
);
CREATE TABLE rollup_hour (
  series          INTEGER NOT NULL REFERENCES series(id),
  hour            INTEGER NOT NULL,   -- Unix hours
  runs            INTEGER NOT NULL,
  successes       INTEGER NOT NULL,
  duration_sum_us INTEGER NOT NULL,
  duration_max_us INTEGER NOT NULL,
  PRIMARY KEY (series, hour)
) WITHOUT ROWID;
CREATE TABLE rollup_day (
  series          INTEGER NOT NULL REFERENCES series(id),
  day             INTEGER NOT NULL,   -- Unix days (UTC)
  runs            INTEGER NOT NULL,
  successes       INTEGER NOT NULL,
  duration_sum_us INTEGER NOT NULL,
  duration_max_us INTEGER NOT NULL,
  PRIMARY KEY (series, day)
) WITHOUT ROWID;
CREATE TABLE dirty_hours (
  hour INTEGER PRIMARY KEY,
  gen  INTEGER NOT NULL
);
CREATE TABLE dirty_days (
  day INTEGER PRIMARY KEY
);
CREATE TABLE store_meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE daemon_runs (
  id           INTEGER PRIMARY KEY,
  started_ms   INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  stopped_ms   INTEGER
);
CREATE TABLE incidents (
  id                  INTEGER PRIMARY KEY,
  kind                TEXT NOT NULL CHECK (kind IN ('incident', 'maintenance')),
  state               TEXT NOT NULL CHECK (state IN ('draft', 'published', 'resolved', 'rejected', 'withdrawn')),
  status              TEXT NOT NULL,
  impact              TEXT NOT NULL,
  title               TEXT NOT NULL,
  title_ja            TEXT NOT NULL DEFAULT '',
  origin              TEXT NOT NULL CHECK (origin IN ('probe', 'alertmanager', 'manual')),
  edited              INTEGER NOT NULL DEFAULT 0,  -- an operator edited the draft: the engine stops rewriting its texts
  reason              TEXT NOT NULL DEFAULT '',    -- why it was rejected, withdrawn or cancelled
  proposal            TEXT NOT NULL DEFAULT '',    -- 'resolve' when the engine proposes resolving it
  proposal_body       TEXT NOT NULL DEFAULT '',
  proposal_body_ja    TEXT NOT NULL DEFAULT '',
  proposal_ms         INTEGER,
  created_ms          INTEGER NOT NULL,
  updated_ms          INTEGER NOT NULL,
  published_ms        INTEGER,
  monitoring_ms       INTEGER,
  resolved_ms         INTEGER,
  scheduled_for_ms    INTEGER,
  scheduled_until_ms  INTEGER,
  shortlink           TEXT NOT NULL DEFAULT ''
);
INSERT INTO incidents VALUES(1,'incident','resolved','resolved','major','OCSP responder: partial outage','OCSP レスポンダー: 一部障害','probe',0,'','','OCSP recovered at 09:40 UTC.','OCSP は 09:40 (UTC) に回復しました。',1793611680000,1793610000000,1793612100000,1793610420000,NULL,1793612100000,NULL,NULL,'');
INSERT INTO incidents VALUES(2,'incident','published','investigating','minor','CRL publication delayed','','manual',0,'','resolve','CRL is current again.','CRL は最新に戻りました。',1793612940000,1793612520000,1793612940000,1793612520000,NULL,NULL,NULL,NULL,'');
INSERT INTO incidents VALUES(3,'incident','rejected','investigating','critical','TSA: major outage','タイムスタンプ局の障害（編集済み）','probe',1,'false alarm','','','',NULL,1793613360000,1793613360000,NULL,NULL,NULL,NULL,NULL,'');
INSERT INTO incidents VALUES(4,'maintenance','resolved','completed','maintenance','CRL publisher upgrade','CRL 配布ポイントの更新作業','manual',0,'','','','',NULL,1793613780000,1793620980000,1793613780000,NULL,1793620980000,1793617380000,1793620980000,'');
INSERT INTO incidents VALUES(5,'maintenance','withdrawn','scheduled','maintenance','HSM firmware','HSM ファームウェア更新','manual',0,'','','','',NULL,1793620980000,1793620980000,1793620980000,NULL,NULL,1793707380000,1793710980000,'');
CREATE TABLE incident_components (
  incident_id  INTEGER NOT NULL REFERENCES incidents(id),
  component    TEXT NOT NULL,
  status       TEXT NOT NULL,
  since_ms     INTEGER,
  position     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (incident_id, component)
) WITHOUT ROWID;
INSERT INTO incident_components VALUES(1,'ocsp','partial_outage',NULL,0);
INSERT INTO incident_components VALUES(2,'crl','degraded_performance',NULL,0);
INSERT INTO incident_components VALUES(3,'timestamp','major_outage',NULL,0);
INSERT INTO incident_components VALUES(4,'crl','under_maintenance',NULL,0);
INSERT INTO incident_components VALUES(4,'ocsp','under_maintenance',NULL,1);
INSERT INTO incident_components VALUES(5,'timestamp','under_maintenance',NULL,0);
CREATE TABLE incident_updates (
  id           INTEGER PRIMARY KEY,
  incident_id  INTEGER NOT NULL REFERENCES incidents(id),
  status       TEXT NOT NULL,
  body         TEXT NOT NULL,
  body_ja      TEXT NOT NULL DEFAULT '',
  created_ms   INTEGER NOT NULL,
  display_ms   INTEGER NOT NULL,
  notify       INTEGER NOT NULL DEFAULT 0,
  affected     TEXT NOT NULL DEFAULT '[]'  -- JSON [{id, old_status, new_status}]
);
INSERT INTO incident_updates VALUES(1,1,'investigating',replace('Since 2026-11-02 09:00 UTC, OCSP "good" answers are stale.\nWe are investigating.','\n',char(10)),replace('2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。','\n',char(10)),1793610420000,1793610420000,1,'[{"id":"ocsp","old_status":"operational","new_status":"partial_outage"}]');
INSERT INTO incident_updates VALUES(2,1,'identified','The signer''s HSM timed out.','署名用 HSM がタイムアウトしました。',1793610840000,1793610840000,1,'[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]');
INSERT INTO incident_updates VALUES(3,1,'identified','English only — no Japanese text <b>here</b> & ''quotes''.','',1793611260000,1793611260000,0,'[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]');
INSERT INTO incident_updates VALUES(4,1,'resolved','This incident has been resolved.','この障害は解消しました。',1793612100000,1793612100000,1,'[{"id":"ocsp","old_status":"partial_outage","new_status":"operational"}]');
INSERT INTO incident_updates VALUES(5,2,'investigating','Investigating 🚧.','',1793612520000,1793612520000,1,'[{"id":"crl","old_status":"operational","new_status":"degraded_performance"}]');
INSERT INTO incident_updates VALUES(6,3,'investigating','TSA fails.','TSA が応答しません。',1793613360000,1793613360000,0,'[]');
INSERT INTO incident_updates VALUES(7,4,'scheduled','The scheduled maintenance has been planned.','定期メンテナンスを予定しています。',1793613780000,1793613780000,1,'[]');
INSERT INTO incident_updates VALUES(8,4,'in_progress','The scheduled maintenance is in progress. We will provide updates as necessary.','定期メンテナンスを実施中です。必要に応じて続報をお知らせします。',1793617380000,1793617380000,1,'[{"id":"crl","old_status":"degraded_performance","new_status":"under_maintenance"},{"id":"ocsp","old_status":"operational","new_status":"under_maintenance"}]');
INSERT INTO incident_updates VALUES(9,4,'verifying','Checking the new publisher.','新しい配布を確認しています。',1793617380000,1793617380000,0,'[{"id":"crl","old_status":"under_maintenance","new_status":"under_maintenance"},{"id":"ocsp","old_status":"under_maintenance","new_status":"under_maintenance"}]');
INSERT INTO incident_updates VALUES(10,4,'completed','The scheduled maintenance has been completed.','定期メンテナンスは完了しました。',1793620980000,1793620980000,1,'[{"id":"crl","old_status":"under_maintenance","new_status":"degraded_performance"},{"id":"ocsp","old_status":"under_maintenance","new_status":"operational"}]');
INSERT INTO incident_updates VALUES(11,5,'scheduled','Firmware 7.2.','ファームウェア 7.2 に更新します。',1793620980000,1793620980000,1,'[]');
INSERT INTO incident_updates VALUES(12,5,'scheduled','The scheduled maintenance has been cancelled.','定期メンテナンスは中止になりました。',1793620980000,1793620980000,1,'[]');
CREATE TABLE incident_evidence (
  id           INTEGER PRIMARY KEY,
  incident_id  INTEGER NOT NULL REFERENCES incidents(id),
  component    TEXT NOT NULL,
  source       TEXT NOT NULL,   -- probe | alertmanager
  probe        TEXT NOT NULL,   -- probe name, or alertname
  location     TEXT NOT NULL,
  check_name   TEXT NOT NULL,
  message      TEXT NOT NULL,
  since_ms     INTEGER NOT NULL,
  last_ms      INTEGER NOT NULL,
  count        INTEGER NOT NULL DEFAULT 1,
  vals         TEXT NOT NULL DEFAULT '{}',  -- JSON object of the stored values
  UNIQUE (incident_id, source, probe, location, check_name)
);
CREATE TABLE component_status_log (
  id           INTEGER PRIMARY KEY,
  component    TEXT NOT NULL,
  status       TEXT NOT NULL,
  from_ms      INTEGER NOT NULL,
  to_ms        INTEGER,
  incident_id  INTEGER REFERENCES incidents(id)
);
INSERT INTO component_status_log VALUES(1,'ocsp','partial_outage',1793610420000,1793612100000,1);
INSERT INTO component_status_log VALUES(2,'ocsp','operational',1793612100000,1793617380000,NULL);
INSERT INTO component_status_log VALUES(3,'crl','degraded_performance',1793612520000,1793617380000,2);
INSERT INTO component_status_log VALUES(4,'crl','under_maintenance',1793617380000,1793620980000,4);
INSERT INTO component_status_log VALUES(5,'ocsp','under_maintenance',1793617380000,1793620980000,4);
INSERT INTO component_status_log VALUES(6,'crl','degraded_performance',1793620980000,NULL,2);
INSERT INTO component_status_log VALUES(7,'ocsp','operational',1793620980000,NULL,NULL);
CREATE TABLE audit_log (
  id           INTEGER PRIMARY KEY,
  at_ms        INTEGER NOT NULL,
  actor        TEXT NOT NULL,
  action       TEXT NOT NULL,
  incident_id  INTEGER,
  detail       TEXT NOT NULL DEFAULT '',
  before       TEXT,
  after        TEXT
);
INSERT INTO audit_log VALUES(1,1793610000000,'probed','create_draft',1,'probe',NULL,'{"id":1,"kind":"incident","state":"draft","status":"investigating","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:00:00Z","display_at":"2026-11-02T09:00:00Z","notify":false,"affected_components":[]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:00:00Z","published_at":null,"monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(2,1793610420000,'alice','approve',1,'','{"id":1,"kind":"incident","state":"draft","status":"investigating","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:00:00Z","display_at":"2026-11-02T09:00:00Z","notify":false,"affected_components":[]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:00:00Z","published_at":null,"monitoring_at":null,"resolved_at":null}','{"id":1,"kind":"incident","state":"published","status":"investigating","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:07:00Z","display_at":"2026-11-02T09:07:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"operational","new_status":"partial_outage"}]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:07:00Z","published_at":"2026-11-02T09:07:00Z","monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(3,1793610840000,'alice','post_update',1,'identified','{"id":1,"kind":"incident","state":"published","status":"investigating","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:07:00Z","display_at":"2026-11-02T09:07:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"operational","new_status":"partial_outage"}]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:07:00Z","published_at":"2026-11-02T09:07:00Z","monitoring_at":null,"resolved_at":null}','{"id":1,"kind":"incident","state":"published","status":"identified","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":2,"incident_id":1,"status":"identified","body":"The signer''s HSM timed out.","body_ja":"署名用 HSM がタイムアウトしました。","created_at":"2026-11-02T09:14:00Z","display_at":"2026-11-02T09:14:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:07:00Z","display_at":"2026-11-02T09:07:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"operational","new_status":"partial_outage"}]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:14:00Z","published_at":"2026-11-02T09:07:00Z","monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(4,1793611260000,'alice','post_update',1,'update','{"id":1,"kind":"incident","state":"published","status":"identified","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":2,"incident_id":1,"status":"identified","body":"The signer''s HSM timed out.","body_ja":"署名用 HSM がタイムアウトしました。","created_at":"2026-11-02T09:14:00Z","display_at":"2026-11-02T09:14:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:07:00Z","display_at":"2026-11-02T09:07:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"operational","new_status":"partial_outage"}]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:14:00Z","published_at":"2026-11-02T09:07:00Z","monitoring_at":null,"resolved_at":null}','{"id":1,"kind":"incident","state":"published","status":"identified","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":3,"incident_id":1,"status":"identified","body":"English only — no Japanese text \u003cb\u003ehere\u003c/b\u003e \u0026 ''quotes''.","created_at":"2026-11-02T09:21:00Z","display_at":"2026-11-02T09:21:00Z","notify":false,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":2,"incident_id":1,"status":"identified","body":"The signer''s HSM timed out.","body_ja":"署名用 HSM がタイムアウトしました。","created_at":"2026-11-02T09:14:00Z","display_at":"2026-11-02T09:14:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:07:00Z","display_at":"2026-11-02T09:07:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"operational","new_status":"partial_outage"}]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:21:00Z","published_at":"2026-11-02T09:07:00Z","monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(5,1793611680000,'probed','propose_resolve',1,'','{"id":1,"kind":"incident","state":"published","status":"identified","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":3,"incident_id":1,"status":"identified","body":"English only — no Japanese text \u003cb\u003ehere\u003c/b\u003e \u0026 ''quotes''.","created_at":"2026-11-02T09:21:00Z","display_at":"2026-11-02T09:21:00Z","notify":false,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":2,"incident_id":1,"status":"identified","body":"The signer''s HSM timed out.","body_ja":"署名用 HSM がタイムアウトしました。","created_at":"2026-11-02T09:14:00Z","display_at":"2026-11-02T09:14:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:07:00Z","display_at":"2026-11-02T09:07:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"operational","new_status":"partial_outage"}]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:21:00Z","published_at":"2026-11-02T09:07:00Z","monitoring_at":null,"resolved_at":null}','{"id":1,"kind":"incident","state":"published","status":"identified","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":3,"incident_id":1,"status":"identified","body":"English only — no Japanese text \u003cb\u003ehere\u003c/b\u003e \u0026 ''quotes''.","created_at":"2026-11-02T09:21:00Z","display_at":"2026-11-02T09:21:00Z","notify":false,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":2,"incident_id":1,"status":"identified","body":"The signer''s HSM timed out.","body_ja":"署名用 HSM がタイムアウトしました。","created_at":"2026-11-02T09:14:00Z","display_at":"2026-11-02T09:14:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:07:00Z","display_at":"2026-11-02T09:07:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"operational","new_status":"partial_outage"}]}],"evidence":[],"origin":"probe","edited":false,"proposal":{"action":"resolve","body":"OCSP recovered at 09:40 UTC.","body_ja":"OCSP は 09:40 (UTC) に回復しました。","at":"2026-11-02T09:28:00Z"},"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:28:00Z","published_at":"2026-11-02T09:07:00Z","monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(6,1793612100000,'alice','resolve',1,'','{"id":1,"kind":"incident","state":"published","status":"identified","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":3,"incident_id":1,"status":"identified","body":"English only — no Japanese text \u003cb\u003ehere\u003c/b\u003e \u0026 ''quotes''.","created_at":"2026-11-02T09:21:00Z","display_at":"2026-11-02T09:21:00Z","notify":false,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":2,"incident_id":1,"status":"identified","body":"The signer''s HSM timed out.","body_ja":"署名用 HSM がタイムアウトしました。","created_at":"2026-11-02T09:14:00Z","display_at":"2026-11-02T09:14:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:07:00Z","display_at":"2026-11-02T09:07:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"operational","new_status":"partial_outage"}]}],"evidence":[],"origin":"probe","edited":false,"proposal":{"action":"resolve","body":"OCSP recovered at 09:40 UTC.","body_ja":"OCSP は 09:40 (UTC) に回復しました。","at":"2026-11-02T09:28:00Z"},"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:28:00Z","published_at":"2026-11-02T09:07:00Z","monitoring_at":null,"resolved_at":null}','{"id":1,"kind":"incident","state":"resolved","status":"resolved","impact":"major","title":"OCSP responder: partial outage","title_ja":"OCSP レスポンダー: 一部障害","components":[{"id":"ocsp","status":"partial_outage"}],"updates":[{"id":4,"incident_id":1,"status":"resolved","body":"This incident has been resolved.","body_ja":"この障害は解消しました。","created_at":"2026-11-02T09:35:00Z","display_at":"2026-11-02T09:35:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"operational"}]},{"id":3,"incident_id":1,"status":"identified","body":"English only — no Japanese text \u003cb\u003ehere\u003c/b\u003e \u0026 ''quotes''.","created_at":"2026-11-02T09:21:00Z","display_at":"2026-11-02T09:21:00Z","notify":false,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":2,"incident_id":1,"status":"identified","body":"The signer''s HSM timed out.","body_ja":"署名用 HSM がタイムアウトしました。","created_at":"2026-11-02T09:14:00Z","display_at":"2026-11-02T09:14:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"partial_outage","new_status":"partial_outage"}]},{"id":1,"incident_id":1,"status":"investigating","body":"Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.","body_ja":"2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。","created_at":"2026-11-02T09:07:00Z","display_at":"2026-11-02T09:07:00Z","notify":true,"affected_components":[{"id":"ocsp","old_status":"operational","new_status":"partial_outage"}]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:35:00Z","published_at":"2026-11-02T09:07:00Z","monitoring_at":null,"resolved_at":"2026-11-02T09:35:00Z"}');
INSERT INTO audit_log VALUES(7,1793612520000,'bob','create_draft',2,'manual',NULL,'{"id":2,"kind":"incident","state":"draft","status":"investigating","impact":"minor","title":"CRL publication delayed","components":[{"id":"crl","status":"degraded_performance"}],"updates":[{"id":5,"incident_id":2,"status":"investigating","body":"Investigating 🚧.","created_at":"2026-11-02T09:42:00Z","display_at":"2026-11-02T09:42:00Z","notify":false,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T09:42:00Z","updated_at":"2026-11-02T09:42:00Z","published_at":null,"monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(8,1793612520000,'bob','approve',2,'','{"id":2,"kind":"incident","state":"draft","status":"investigating","impact":"minor","title":"CRL publication delayed","components":[{"id":"crl","status":"degraded_performance"}],"updates":[{"id":5,"incident_id":2,"status":"investigating","body":"Investigating 🚧.","created_at":"2026-11-02T09:42:00Z","display_at":"2026-11-02T09:42:00Z","notify":false,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T09:42:00Z","updated_at":"2026-11-02T09:42:00Z","published_at":null,"monitoring_at":null,"resolved_at":null}','{"id":2,"kind":"incident","state":"published","status":"investigating","impact":"minor","title":"CRL publication delayed","components":[{"id":"crl","status":"degraded_performance"}],"updates":[{"id":5,"incident_id":2,"status":"investigating","body":"Investigating 🚧.","created_at":"2026-11-02T09:42:00Z","display_at":"2026-11-02T09:42:00Z","notify":true,"affected_components":[{"id":"crl","old_status":"operational","new_status":"degraded_performance"}]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T09:42:00Z","updated_at":"2026-11-02T09:42:00Z","published_at":"2026-11-02T09:42:00Z","monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(9,1793612940000,'probed','propose_resolve',2,'','{"id":2,"kind":"incident","state":"published","status":"investigating","impact":"minor","title":"CRL publication delayed","components":[{"id":"crl","status":"degraded_performance"}],"updates":[{"id":5,"incident_id":2,"status":"investigating","body":"Investigating 🚧.","created_at":"2026-11-02T09:42:00Z","display_at":"2026-11-02T09:42:00Z","notify":true,"affected_components":[{"id":"crl","old_status":"operational","new_status":"degraded_performance"}]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T09:42:00Z","updated_at":"2026-11-02T09:42:00Z","published_at":"2026-11-02T09:42:00Z","monitoring_at":null,"resolved_at":null}','{"id":2,"kind":"incident","state":"published","status":"investigating","impact":"minor","title":"CRL publication delayed","components":[{"id":"crl","status":"degraded_performance"}],"updates":[{"id":5,"incident_id":2,"status":"investigating","body":"Investigating 🚧.","created_at":"2026-11-02T09:42:00Z","display_at":"2026-11-02T09:42:00Z","notify":true,"affected_components":[{"id":"crl","old_status":"operational","new_status":"degraded_performance"}]}],"evidence":[],"origin":"manual","edited":false,"proposal":{"action":"resolve","body":"CRL is current again.","body_ja":"CRL は最新に戻りました。","at":"2026-11-02T09:49:00Z"},"created_at":"2026-11-02T09:42:00Z","updated_at":"2026-11-02T09:49:00Z","published_at":"2026-11-02T09:42:00Z","monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(10,1793613360000,'probed','create_draft',3,'probe',NULL,'{"id":3,"kind":"incident","state":"draft","status":"investigating","impact":"critical","title":"TSA: major outage","title_ja":"TSA: 重大な障害","components":[{"id":"timestamp","status":"major_outage"}],"updates":[{"id":6,"incident_id":3,"status":"investigating","body":"TSA fails.","body_ja":"TSA が応答しません。","created_at":"2026-11-02T09:56:00Z","display_at":"2026-11-02T09:56:00Z","notify":false,"affected_components":[]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:56:00Z","updated_at":"2026-11-02T09:56:00Z","published_at":null,"monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(11,1793613360000,'alice','edit_draft',3,'','{"id":3,"kind":"incident","state":"draft","status":"investigating","impact":"critical","title":"TSA: major outage","title_ja":"TSA: 重大な障害","components":[{"id":"timestamp","status":"major_outage"}],"updates":[{"id":6,"incident_id":3,"status":"investigating","body":"TSA fails.","body_ja":"TSA が応答しません。","created_at":"2026-11-02T09:56:00Z","display_at":"2026-11-02T09:56:00Z","notify":false,"affected_components":[]}],"evidence":[],"origin":"probe","edited":false,"created_at":"2026-11-02T09:56:00Z","updated_at":"2026-11-02T09:56:00Z","published_at":null,"monitoring_at":null,"resolved_at":null}','{"id":3,"kind":"incident","state":"draft","status":"investigating","impact":"critical","title":"TSA: major outage","title_ja":"タイムスタンプ局の障害（編集済み）","components":[{"id":"timestamp","status":"major_outage"}],"updates":[{"id":6,"incident_id":3,"status":"investigating","body":"TSA fails.","body_ja":"TSA が応答しません。","created_at":"2026-11-02T09:56:00Z","display_at":"2026-11-02T09:56:00Z","notify":false,"affected_components":[]}],"evidence":[],"origin":"probe","edited":true,"created_at":"2026-11-02T09:56:00Z","updated_at":"2026-11-02T09:56:00Z","published_at":null,"monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(12,1793613360000,'alice','reject',3,'false alarm','{"id":3,"kind":"incident","state":"draft","status":"investigating","impact":"critical","title":"TSA: major outage","title_ja":"タイムスタンプ局の障害（編集済み）","components":[{"id":"timestamp","status":"major_outage"}],"updates":[{"id":6,"incident_id":3,"status":"investigating","body":"TSA fails.","body_ja":"TSA が応答しません。","created_at":"2026-11-02T09:56:00Z","display_at":"2026-11-02T09:56:00Z","notify":false,"affected_components":[]}],"evidence":[],"origin":"probe","edited":true,"created_at":"2026-11-02T09:56:00Z","updated_at":"2026-11-02T09:56:00Z","published_at":null,"monitoring_at":null,"resolved_at":null}','{"id":3,"kind":"incident","state":"rejected","status":"investigating","impact":"critical","title":"TSA: major outage","title_ja":"タイムスタンプ局の障害（編集済み）","components":[{"id":"timestamp","status":"major_outage"}],"updates":[{"id":6,"incident_id":3,"status":"investigating","body":"TSA fails.","body_ja":"TSA が応答しません。","created_at":"2026-11-02T09:56:00Z","display_at":"2026-11-02T09:56:00Z","notify":false,"affected_components":[]}],"evidence":[],"origin":"probe","edited":true,"reason":"false alarm","created_at":"2026-11-02T09:56:00Z","updated_at":"2026-11-02T09:56:00Z","published_at":null,"monitoring_at":null,"resolved_at":null}');
INSERT INTO audit_log VALUES(13,1793613780000,'alice','schedule_maintenance',4,'',NULL,'{"id":4,"kind":"maintenance","state":"published","status":"scheduled","impact":"maintenance","title":"CRL publisher upgrade","title_ja":"CRL 配布ポイントの更新作業","components":[{"id":"crl","status":"under_maintenance"},{"id":"ocsp","status":"under_maintenance"}],"updates":[{"id":7,"incident_id":4,"status":"scheduled","body":"The scheduled maintenance has been planned.","body_ja":"定期メンテナンスを予定しています。","created_at":"2026-11-02T10:03:00Z","display_at":"2026-11-02T10:03:00Z","notify":true,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T10:03:00Z","updated_at":"2026-11-02T10:03:00Z","published_at":"2026-11-02T10:03:00Z","monitoring_at":null,"resolved_at":null,"scheduled_for":"2026-11-02T11:03:00Z","scheduled_until":"2026-11-02T12:03:00Z"}');
INSERT INTO audit_log VALUES(14,1793617380000,'probed','maintenance_in_progress',4,'','{"id":4,"kind":"maintenance","state":"published","status":"scheduled","impact":"maintenance","title":"CRL publisher upgrade","title_ja":"CRL 配布ポイントの更新作業","components":[{"id":"crl","status":"under_maintenance"},{"id":"ocsp","status":"under_maintenance"}],"updates":[{"id":7,"incident_id":4,"status":"scheduled","body":"The scheduled maintenance has been planned.","body_ja":"定期メンテナンスを予定しています。","created_at":"2026-11-02T10:03:00Z","display_at":"2026-11-02T10:03:00Z","notify":true,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T10:03:00Z","updated_at":"2026-11-02T10:03:00Z","published_at":"2026-11-02T10:03:00Z","monitoring_at":null,"resolved_at":null,"scheduled_for":"2026-11-02T11:03:00Z","scheduled_until":"2026-11-02T12:03:00Z"}','{"id":4,"kind":"maintenance","state":"published","status":"in_progress","impact":"maintenance","title":"CRL publisher upgrade","title_ja":"CRL 配布ポイントの更新作業","components":[{"id":"crl","status":"under_maintenance"},{"id":"ocsp","status":"under_maintenance"}],"updates":[{"id":8,"incident_id":4,"status":"in_progress","body":"The scheduled maintenance is in progress. We will provide updates as necessary.","body_ja":"定期メンテナンスを実施中です。必要に応じて続報をお知らせします。","created_at":"2026-11-02T11:03:00Z","display_at":"2026-11-02T11:03:00Z","notify":true,"affected_components":[{"id":"crl","old_status":"degraded_performance","new_status":"under_maintenance"},{"id":"ocsp","old_status":"operational","new_status":"under_maintenance"}]},{"id":7,"incident_id":4,"status":"scheduled","body":"The scheduled maintenance has been planned.","body_ja":"定期メンテナンスを予定しています。","created_at":"2026-11-02T10:03:00Z","display_at":"2026-11-02T10:03:00Z","notify":true,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T10:03:00Z","updated_at":"2026-11-02T11:03:00Z","published_at":"2026-11-02T10:03:00Z","monitoring_at":null,"resolved_at":null,"scheduled_for":"2026-11-02T11:03:00Z","scheduled_until":"2026-11-02T12:03:00Z"}');
INSERT INTO audit_log VALUES(15,1793617380000,'alice','maintenance_verifying',4,'','{"id":4,"kind":"maintenance","state":"published","status":"in_progress","impact":"maintenance","title":"CRL publisher upgrade","title_ja":"CRL 配布ポイントの更新作業","components":[{"id":"crl","status":"under_maintenance"},{"id":"ocsp","status":"under_maintenance"}],"updates":[{"id":8,"incident_id":4,"status":"in_progress","body":"The scheduled maintenance is in progress. We will provide updates as necessary.","body_ja":"定期メンテナンスを実施中です。必要に応じて続報をお知らせします。","created_at":"2026-11-02T11:03:00Z","display_at":"2026-11-02T11:03:00Z","notify":true,"affected_components":[{"id":"crl","old_status":"degraded_performance","new_status":"under_maintenance"},{"id":"ocsp","old_status":"operational","new_status":"under_maintenance"}]},{"id":7,"incident_id":4,"status":"scheduled","body":"The scheduled maintenance has been planned.","body_ja":"定期メンテナンスを予定しています。","created_at":"2026-11-02T10:03:00Z","display_at":"2026-11-02T10:03:00Z","notify":true,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T10:03:00Z","updated_at":"2026-11-02T11:03:00Z","published_at":"2026-11-02T10:03:00Z","monitoring_at":null,"resolved_at":null,"scheduled_for":"2026-11-02T11:03:00Z","scheduled_until":"2026-11-02T12:03:00Z"}','{"id":4,"kind":"maintenance","state":"published","status":"verifying","impact":"maintenance","title":"CRL publisher upgrade","title_ja":"CRL 配布ポイントの更新作業","components":[{"id":"crl","status":"under_maintenance"},{"id":"ocsp","status":"under_maintenance"}],"updates":[{"id":9,"incident_id":4,"status":"verifying","body":"Checking the new publisher.","body_ja":"新しい配布を確認しています。","created_at":"2026-11-02T11:03:00Z","display_at":"2026-11-02T11:03:00Z","notify":false,"affected_components":[{"id":"crl","old_status":"under_maintenance","new_status":"under_maintenance"},{"id":"ocsp","old_status":"under_maintenance","new_status":"under_maintenance"}]},{"id":8,"incident_id":4,"status":"in_progress","body":"The scheduled maintenance is in progress. We will provide updates as necessary.","body_ja":"定期メンテナンスを実施中です。必要に応じて続報をお知らせします。","created_at":"2026-11-02T11:03:00Z","display_at":"2026-11-02T11:03:00Z","notify":true,"affected_components":[{"id":"crl","old_status":"degraded_performance","new_status":"under_maintenance"},{"id":"ocsp","old_status":"operational","new_status":"under_maintenance"}]},{"id":7,"incident_id":4,"status":"scheduled","body":"The scheduled maintenance has been planned.","body_ja":"定期メンテナンスを予定しています。","created_at":"2026-11-02T10:03:00Z","display_at":"2026-11-02T10:03:00Z","notify":true,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T10:03:00Z","updated_at":"2026-11-02T11:03:00Z","published_at":"2026-11-02T10:03:00Z","monitoring_at":null,"resolved_at":null,"scheduled_for":"2026-11-02T11:03:00Z","scheduled_until":"2026-11-02T12:03:00Z"}');
INSERT INTO audit_log VALUES(16,1793620980000,'probed','maintenance_completed',4,'','{"id":4,"kind":"maintenance","state":"published","status":"verifying","impact":"maintenance","title":"CRL publisher upgrade","title_ja":"CRL 配布ポイントの更新作業","components":[{"id":"crl","status":"under_maintenance"},{"id":"ocsp","status":"under_maintenance"}],"updates":[{"id":9,"incident_id":4,"status":"verifying","body":"Checking the new publisher.","body_ja":"新しい配布を確認しています。","created_at":"2026-11-02T11:03:00Z","display_at":"2026-11-02T11:03:00Z","notify":false,"affected_components":[{"id":"crl","old_status":"under_maintenance","new_status":"under_maintenance"},{"id":"ocsp","old_status":"under_maintenance","new_status":"under_maintenance"}]},{"id":8,"incident_id":4,"status":"in_progress","body":"The scheduled maintenance is in progress. We will provide updates as necessary.","body_ja":"定期メンテナンスを実施中です。必要に応じて続報をお知らせします。","created_at":"2026-11-02T11:03:00Z","display_at":"2026-11-02T11:03:00Z","notify":true,"affected_components":[{"id":"crl","old_status":"degraded_performance","new_status":"under_maintenance"},{"id":"ocsp","old_status":"operational","new_status":"under_maintenance"}]},{"id":7,"incident_id":4,"status":"scheduled","body":"The scheduled maintenance has been planned.","body_ja":"定期メンテナンスを予定しています。","created_at":"2026-11-02T10:03:00Z","display_at":"2026-11-02T10:03:00Z","notify":true,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T10:03:00Z","updated_at":"2026-11-02T11:03:00Z","published_at":"2026-11-02T10:03:00Z","monitoring_at":null,"resolved_at":null,"scheduled_for":"2026-11-02T11:03:00Z","scheduled_until":"2026-11-02T12:03:00Z"}','{"id":4,"kind":"maintenance","state":"resolved","status":"completed","impact":"maintenance","title":"CRL publisher upgrade","title_ja":"CRL 配布ポイントの更新作業","components":[{"id":"crl","status":"under_maintenance"},{"id":"ocsp","status":"under_maintenance"}],"updates":[{"id":10,"incident_id":4,"status":"completed","body":"The scheduled maintenance has been completed.","body_ja":"定期メンテナンスは完了しました。","created_at":"2026-11-02T12:03:00Z","display_at":"2026-11-02T12:03:00Z","notify":true,"affected_components":[{"id":"crl","old_status":"under_maintenance","new_status":"degraded_performance"},{"id":"ocsp","old_status":"under_maintenance","new_status":"operational"}]},{"id":9,"incident_id":4,"status":"verifying","body":"Checking the new publisher.","body_ja":"新しい配布を確認しています。","created_at":"2026-11-02T11:03:00Z","display_at":"2026-11-02T11:03:00Z","notify":false,"affected_components":[{"id":"crl","old_status":"under_maintenance","new_status":"under_maintenance"},{"id":"ocsp","old_status":"under_maintenance","new_status":"under_maintenance"}]},{"id":8,"incident_id":4,"status":"in_progress","body":"The scheduled maintenance is in progress. We will provide updates as necessary.","body_ja":"定期メンテナンスを実施中です。必要に応じて続報をお知らせします。","created_at":"2026-11-02T11:03:00Z","display_at":"2026-11-02T11:03:00Z","notify":true,"affected_components":[{"id":"crl","old_status":"degraded_performance","new_status":"under_maintenance"},{"id":"ocsp","old_status":"operational","new_status":"under_maintenance"}]},{"id":7,"incident_id":4,"status":"scheduled","body":"The scheduled maintenance has been planned.","body_ja":"定期メンテナンスを予定しています。","created_at":"2026-11-02T10:03:00Z","display_at":"2026-11-02T10:03:00Z","notify":true,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T10:03:00Z","updated_at":"2026-11-02T12:03:00Z","published_at":"2026-11-02T10:03:00Z","monitoring_at":null,"resolved_at":"2026-11-02T12:03:00Z","scheduled_for":"2026-11-02T11:03:00Z","scheduled_until":"2026-11-02T12:03:00Z"}');
INSERT INTO audit_log VALUES(17,1793620980000,'alice','schedule_maintenance',5,'',NULL,'{"id":5,"kind":"maintenance","state":"published","status":"scheduled","impact":"maintenance","title":"HSM firmware","title_ja":"HSM ファームウェア更新","components":[{"id":"timestamp","status":"under_maintenance"}],"updates":[{"id":11,"incident_id":5,"status":"scheduled","body":"Firmware 7.2.","body_ja":"ファームウェア 7.2 に更新します。","created_at":"2026-11-02T12:03:00Z","display_at":"2026-11-02T12:03:00Z","notify":true,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T12:03:00Z","updated_at":"2026-11-02T12:03:00Z","published_at":"2026-11-02T12:03:00Z","monitoring_at":null,"resolved_at":null,"scheduled_for":"2026-11-03T12:03:00Z","scheduled_until":"2026-11-03T13:03:00Z"}');
INSERT INTO audit_log VALUES(18,1793620980000,'alice','cancel_maintenance',5,'','{"id":5,"kind":"maintenance","state":"published","status":"scheduled","impact":"maintenance","title":"HSM firmware","title_ja":"HSM ファームウェア更新","components":[{"id":"timestamp","status":"under_maintenance"}],"updates":[{"id":11,"incident_id":5,"status":"scheduled","body":"Firmware 7.2.","body_ja":"ファームウェア 7.2 に更新します。","created_at":"2026-11-02T12:03:00Z","display_at":"2026-11-02T12:03:00Z","notify":true,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T12:03:00Z","updated_at":"2026-11-02T12:03:00Z","published_at":"2026-11-02T12:03:00Z","monitoring_at":null,"resolved_at":null,"scheduled_for":"2026-11-03T12:03:00Z","scheduled_until":"2026-11-03T13:03:00Z"}','{"id":5,"kind":"maintenance","state":"withdrawn","status":"scheduled","impact":"maintenance","title":"HSM firmware","title_ja":"HSM ファームウェア更新","components":[{"id":"timestamp","status":"under_maintenance"}],"updates":[{"id":12,"incident_id":5,"status":"scheduled","body":"The scheduled maintenance has been cancelled.","body_ja":"定期メンテナンスは中止になりました。","created_at":"2026-11-02T12:03:00Z","display_at":"2026-11-02T12:03:00Z","notify":true,"affected_components":[]},{"id":11,"incident_id":5,"status":"scheduled","body":"Firmware 7.2.","body_ja":"ファームウェア 7.2 に更新します。","created_at":"2026-11-02T12:03:00Z","display_at":"2026-11-02T12:03:00Z","notify":true,"affected_components":[]}],"evidence":[],"origin":"manual","edited":false,"created_at":"2026-11-02T12:03:00Z","updated_at":"2026-11-02T12:03:00Z","published_at":"2026-11-02T12:03:00Z","monitoring_at":null,"resolved_at":null,"scheduled_for":"2026-11-03T12:03:00Z","scheduled_until":"2026-11-03T13:03:00Z"}');
CREATE TABLE tokens (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  hash          BLOB NOT NULL UNIQUE,
  created_ms    INTEGER NOT NULL,
  last_used_ms  INTEGER
);
CREATE TABLE sessions (
  hash        BLOB PRIMARY KEY,
  token_name  TEXT NOT NULL,
  csrf        TEXT NOT NULL,
  created_ms  INTEGER NOT NULL,
  expires_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE engine_probes (
  probe      TEXT NOT NULL,
  location   TEXT NOT NULL,
  component  TEXT NOT NULL,
  down       INTEGER NOT NULL,
  slow       INTEGER NOT NULL,
  fails      INTEGER NOT NULL,
  oks        INTEGER NOT NULL,
  slows      INTEGER NOT NULL,
  since_ms   INTEGER NOT NULL,  -- when down (or up) began: the first failure of the run
  last_ms    INTEGER NOT NULL,
  checks     TEXT NOT NULL DEFAULT '[]',  -- JSON: the failed checks of the last failed run
  PRIMARY KEY (probe, location)
) WITHOUT ROWID;
CREATE TABLE engine_components (
  component  TEXT PRIMARY KEY,
  status     TEXT NOT NULL,
  since_ms   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE alerts (
  fingerprint  TEXT NOT NULL,
  starts_ms    INTEGER NOT NULL,
  component    TEXT NOT NULL,
  alertname    TEXT NOT NULL,
  status       TEXT NOT NULL,   -- firing | resolved
  comp_status  TEXT NOT NULL,   -- component status the alert stands for
  labels       TEXT NOT NULL,
  annotations  TEXT NOT NULL,
  ends_ms      INTEGER,
  received_ms  INTEGER NOT NULL,
  updated_ms   INTEGER NOT NULL,
  PRIMARY KEY (fingerprint, starts_ms)
) WITHOUT ROWID;
CREATE TABLE events (
  id             INTEGER PRIMARY KEY,
  kind           TEXT NOT NULL,      -- incident_published, incident_updated, incident_resolved,
                                     -- maintenance_scheduled, maintenance_started, maintenance_completed
  incident_id    INTEGER,            -- incidents and maintenances share the incidents table
  update_id      INTEGER,            -- the timeline entry the event announces
  components     TEXT NOT NULL,      -- JSON array of affected component ids
  created_ms     INTEGER NOT NULL,
  fanned_out_ms  INTEGER             -- NULL until the notify worker has written the deliveries
);
INSERT INTO events VALUES(1,'incident_published',1,1,'["ocsp"]',1793610420000,NULL);
INSERT INTO events VALUES(2,'incident_updated',1,2,'["ocsp"]',1793610840000,NULL);
INSERT INTO events VALUES(3,'incident_resolved',1,4,'["ocsp"]',1793612100000,NULL);
INSERT INTO events VALUES(4,'incident_published',2,5,'["crl"]',1793612520000,NULL);
INSERT INTO events VALUES(5,'maintenance_scheduled',4,7,'["crl","ocsp"]',1793613780000,NULL);
INSERT INTO events VALUES(6,'maintenance_started',4,8,'["crl","ocsp"]',1793617380000,NULL);
INSERT INTO events VALUES(7,'maintenance_completed',4,10,'["crl","ocsp"]',1793620980000,NULL);
INSERT INTO events VALUES(8,'maintenance_scheduled',5,11,'["timestamp"]',1793620980000,NULL);
INSERT INTO events VALUES(9,'incident_updated',5,12,'["timestamp"]',1793620980000,NULL);
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
, language TEXT NOT NULL DEFAULT '');
CREATE TABLE subscriber_components (
  component  TEXT NOT NULL,
  subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
  PRIMARY KEY (component, subscriber)
) WITHOUT ROWID;
CREATE TABLE signing_keys (
  name       TEXT PRIMARY KEY,
  key        BLOB NOT NULL,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
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
, channel TEXT NOT NULL DEFAULT 'email');
CREATE INDEX incidents_state ON incidents (state, kind);
CREATE INDEX incident_components_component ON incident_components (component);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, id);
CREATE INDEX component_status_log_component ON component_status_log (component, from_ms);
CREATE UNIQUE INDEX component_status_log_open ON component_status_log (component) WHERE to_ms IS NULL;
CREATE INDEX audit_log_incident ON audit_log (incident_id);
CREATE INDEX alerts_firing ON alerts (status, component);
CREATE INDEX events_pending ON events (fanned_out_ms) WHERE fanned_out_ms IS NULL;
CREATE INDEX subscribers_state ON subscribers (state, created_ms);
CREATE INDEX subscriber_components_by_subscriber ON subscriber_components (subscriber);
CREATE UNIQUE INDEX deliveries_once ON deliveries (event, subscriber) WHERE kind = 'event';
CREATE UNIQUE INDEX deliveries_one_confirm ON deliveries (subscriber) WHERE kind = 'confirm' AND state = 'pending';
CREATE INDEX deliveries_due ON deliveries (due_ms) WHERE state = 'pending';
CREATE INDEX deliveries_by_subscriber ON deliveries (subscriber, state);
CREATE INDEX deliveries_channel_due ON deliveries (channel, due_ms) WHERE state = 'pending';
COMMIT;
