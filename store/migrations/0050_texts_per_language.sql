-- Texts per language as rows: an incident's title and the engine's resolve
-- proposal (incident_texts), and each update's body (update_texts), one row
-- per language that has a text. Adding a language adds rows, not columns.
-- Existing texts move over as they were: the old title/body/proposal_body
-- columns held English, the *_ja columns Japanese ('' meant none).
CREATE TABLE incident_texts (
  incident_id  INTEGER NOT NULL REFERENCES incidents(id),
  field        TEXT NOT NULL CHECK (field IN ('title', 'proposal')),
  lang         TEXT NOT NULL CHECK (lang <> ''),
  text         TEXT NOT NULL,
  PRIMARY KEY (incident_id, field, lang)
) WITHOUT ROWID;

CREATE TABLE update_texts (
  update_id  INTEGER NOT NULL REFERENCES incident_updates(id),
  lang       TEXT NOT NULL CHECK (lang <> ''),
  text       TEXT NOT NULL,
  PRIMARY KEY (update_id, lang)
) WITHOUT ROWID;

INSERT INTO incident_texts (incident_id, field, lang, text) SELECT id, 'title', 'en', title FROM incidents WHERE title <> '';
INSERT INTO incident_texts (incident_id, field, lang, text) SELECT id, 'title', 'ja', title_ja FROM incidents WHERE title_ja <> '';
INSERT INTO incident_texts (incident_id, field, lang, text) SELECT id, 'proposal', 'en', proposal_body FROM incidents WHERE proposal_body <> '';
INSERT INTO incident_texts (incident_id, field, lang, text) SELECT id, 'proposal', 'ja', proposal_body_ja FROM incidents WHERE proposal_body_ja <> '';
INSERT INTO update_texts (update_id, lang, text) SELECT id, 'en', body FROM incident_updates WHERE body <> '';
INSERT INTO update_texts (update_id, lang, text) SELECT id, 'ja', body_ja FROM incident_updates WHERE body_ja <> '';

ALTER TABLE incidents DROP COLUMN title;
ALTER TABLE incidents DROP COLUMN title_ja;
ALTER TABLE incidents DROP COLUMN proposal_body;
ALTER TABLE incidents DROP COLUMN proposal_body_ja;
ALTER TABLE incident_updates DROP COLUMN body;
ALTER TABLE incident_updates DROP COLUMN body_ja;
