package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// TokenPrefix starts every operator token, so a leaked one is recognisable
// by secret scanners.
const TokenPrefix = "probed_"

// Token is an operator API token as stored: its name, never its secret.
type Token struct {
	Name     string     `json:"name"`
	Created  time.Time  `json:"created_at"`
	LastUsed *time.Time `json:"last_used_at"`
}

// ErrUnauthorized is a token or session that does not check out.
var ErrUnauthorized = errors.New("unauthorized")

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// tokenSecretBytes is the randomness of a token, after TokenPrefix.
const tokenSecretBytes = 32

// WellFormedToken reports whether secret has the form of an operator token
// (TokenPrefix, then 43 base64url characters): a check that costs no lookup,
// for callers to run before they spend anything on an attempt.
func WellFormedToken(secret string) bool {
	rest, ok := strings.CutPrefix(secret, TokenPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(tokenSecretBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

func newSecret() (string, error) {
	b := make([]byte, tokenSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CreateToken makes a token named name and returns its secret, which is
// shown once: only its SHA-256 is kept.
func (s *Store) CreateToken(ctx context.Context, name string) (string, error) {
	if !tokenNameRE.MatchString(name) {
		return "", fmt.Errorf("create token: name %q: use letters, digits, '.', '_', '@' and '-' (at most 64): %w", name, ErrInvalid)
	}
	sec, err := newSecret()
	if err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	secret := TokenPrefix + sec
	err = s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (name, hash, created_ms) VALUES (?, ?, ?)`, name, hashSecret(secret), s.clock.Now().UnixMilli())
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("create token: a token named %q exists already: %w", name, ErrInvalid)
			}
			return fmt.Errorf("create token: %w", err)
		}
		return s.audit(ctx, tx, name, "create_token", 0, "made on the server with probed token create", nil, nil)
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Authenticate returns the name of the token whose secret this is and
// stamps its last use; ErrUnauthorized when there is none.
func (s *Store) Authenticate(ctx context.Context, secret string) (string, error) {
	if !WellFormedToken(secret) {
		return "", ErrUnauthorized
	}
	var name string
	var id int64
	var last sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, last_used_ms FROM tokens WHERE hash = ?`, hashSecret(secret)).Scan(&id, &name, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrUnauthorized
	}
	if err != nil {
		return "", fmt.Errorf("authenticate: %w", s.readFailed(ctx, err))
	}
	now := s.clock.Now()
	// Stamp at most once a minute: a busy script should not turn reads into writes.
	if !last.Valid || now.UnixMilli()-last.Int64 > 60_000 {
		s.stamp(id, now)
	}
	return name, nil
}

// stamp records a token's last use in the background: a locked database
// delays the stamp, never the operator's request (which meets the lock
// where it writes, with a clear 503). One stamp per token at a time.
func (s *Store) stamp(id int64, now time.Time) {
	if _, busy := s.stamping.LoadOrStore(id, true); busy {
		return
	}
	ctx, done, err := s.loop(context.Background())
	if err != nil {
		s.stamping.Delete(id)
		return
	}
	go func() {
		defer done()
		defer s.stamping.Delete(id)
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := s.tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_ms = ? WHERE id = ?`, now.UnixMilli(), id)
			return err
		})
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("token last use not recorded", "err", err)
		}
	}()
}

// ListTokens returns the tokens by name.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, created_ms, last_used_ms FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var c int64
		var l sql.NullInt64
		if err := rows.Scan(&t.Name, &c, &l); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.Created, t.LastUsed = fromMS(c), nullTime(l)
		out = append(out, t)
	}
	return out, rows.Err()
}

// Session is a console login.
type Session struct {
	TokenName string
	CSRF      string
	Expires   time.Time
}

// CreateSession opens a console session for a token's name and returns the
// cookie secret (only its hash is kept) and the session.
func (s *Store) CreateSession(ctx context.Context, tokenName string, ttl time.Duration) (string, Session, error) {
	secret, err := newSecret()
	if err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	csrf, err := newSecret()
	if err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	now := s.clock.Now()
	sess := Session{TokenName: tokenName, CSRF: csrf, Expires: now.Add(ttl)}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_ms <= ?`, now.UnixMilli()); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (hash, token_name, csrf, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)`,
			hashSecret(secret), tokenName, csrf, now.UnixMilli(), sess.Expires.UnixMilli()); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return s.audit(ctx, tx, tokenName, "login", 0, "", nil, nil)
	})
	if err != nil {
		return "", Session{}, err
	}
	return secret, sess, nil
}

// GetSession returns the live session of a cookie secret, or ErrUnauthorized.
// A session whose token was deleted ends with it.
func (s *Store) GetSession(ctx context.Context, secret string) (Session, error) {
	var sess Session
	var exp int64
	err := s.r.QueryRowContext(ctx, `SELECT s.token_name, s.csrf, s.expires_ms FROM sessions s JOIN tokens t ON t.name = s.token_name WHERE s.hash = ?`,
		hashSecret(secret)).Scan(&sess.TokenName, &sess.CSRF, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrUnauthorized
	}
	if err != nil {
		return Session{}, fmt.Errorf("session: %w", s.readFailed(ctx, err))
	}
	sess.Expires = fromMS(exp)
	if !s.clock.Now().Before(sess.Expires) {
		return Session{}, ErrUnauthorized
	}
	return sess, nil
}

// DeleteSession ends a console session (logout).
func (s *Store) DeleteSession(ctx context.Context, secret string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hashSecret(secret))
		if err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return nil
	})
}
