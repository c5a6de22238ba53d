-- Operator API tokens: only the SHA-256 of the secret is kept. The name is
-- who the audit log says acted.
CREATE TABLE tokens (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  hash          BLOB NOT NULL UNIQUE,
  created_ms    INTEGER NOT NULL,
  last_used_ms  INTEGER
);

-- Console sessions, opened by logging in with a token. The cookie holds the
-- session secret; only its hash is kept. csrf is the per-session form token.
CREATE TABLE sessions (
  hash        BLOB PRIMARY KEY,
  token_name  TEXT NOT NULL,
  csrf        TEXT NOT NULL,
  created_ms  INTEGER NOT NULL,
  expires_ms  INTEGER NOT NULL
) WITHOUT ROWID;
