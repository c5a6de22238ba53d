-- Incident templates: what an operator starts a hand-made incident from.
-- A template's title and first message are texts per language as rows
-- (template_texts), like incident_texts; its components carry the status
-- the incident gives them. impact '' means "from the component statuses".
CREATE TABLE incident_templates (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE CHECK (name <> ''),
  impact      TEXT NOT NULL DEFAULT '',
  status      TEXT NOT NULL DEFAULT 'investigating',
  created_ms  INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL
);

CREATE TABLE template_texts (
  template_id  INTEGER NOT NULL REFERENCES incident_templates(id),
  field        TEXT NOT NULL CHECK (field IN ('title', 'body')),
  lang         TEXT NOT NULL CHECK (lang <> ''),
  text         TEXT NOT NULL,
  PRIMARY KEY (template_id, field, lang)
) WITHOUT ROWID;

CREATE TABLE template_components (
  template_id  INTEGER NOT NULL REFERENCES incident_templates(id),
  component    TEXT NOT NULL,
  status       TEXT NOT NULL,
  position     INTEGER NOT NULL,
  PRIMARY KEY (template_id, component)
) WITHOUT ROWID;

-- Postmortems of resolved incidents. The operator's working text (field
-- 'draft') and the text the public sees (field 'published') are rows per
-- language; publishing copies the draft over. published_ms is the first
-- publication, body_ms the latest; NULL while never published.
CREATE TABLE postmortems (
  incident_id   INTEGER PRIMARY KEY REFERENCES incidents(id),
  draft_ms      INTEGER NOT NULL,
  published_ms  INTEGER,
  body_ms       INTEGER,
  notified      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE postmortem_texts (
  incident_id  INTEGER NOT NULL REFERENCES postmortems(incident_id),
  field        TEXT NOT NULL CHECK (field IN ('draft', 'published')),
  lang         TEXT NOT NULL CHECK (lang <> ''),
  text         TEXT NOT NULL,
  PRIMARY KEY (incident_id, field, lang)
) WITHOUT ROWID;
