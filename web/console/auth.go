package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/probed/probed/store"
)

// Operator authentication: a bearer token (CLI, scripts, Alertmanager) or
// the console's session cookie, opened by logging in with a token. Tokens
// and session secrets are stored hashed. Every state-changing request also
// passes Go's cross-origin protection (Sec-Fetch-Site / Origin), and a
// cookie-authenticated one must carry the session's CSRF token.

// SessionCookie is the console's session cookie.
const SessionCookie = "probed_session"

// CSRFField is the form field (or X-CSRF-Token header) carrying the session's CSRF token.
const CSRFField = "csrf"

// sessionTTL is how long a console login lasts.
const sessionTTL = 12 * time.Hour

// Operator is who is acting: a token's name, and the console session when
// the request came with the cookie.
type Operator struct {
	Name    string
	Session *store.Session
}

type operatorKey struct{}

// OperatorFrom returns the authenticated operator of a request handled by
// an operator route (the notify helper's subscriber pages use it too).
func OperatorFrom(ctx context.Context) (Operator, bool) {
	op, ok := ctx.Value(operatorKey{}).(Operator)
	return op, ok
}

var errNoCredentials = errors.New("no credentials: send Authorization: Bearer <token> (probed token create) or log in at /admin/login")

// authenticate finds the operator of a request; errors are for the 401 body.
func (s *Console) authenticate(r *http.Request) (Operator, error) {
	st := s.store
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return Operator{}, errors.New("malformed Authorization header: want Bearer <token>")
		}
		name, err := st.Authenticate(r.Context(), strings.TrimSpace(tok))
		if errors.Is(err, store.ErrUnauthorized) {
			return Operator{}, errors.New("unknown token")
		}
		if err != nil {
			return Operator{}, err
		}
		return Operator{Name: name}, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return Operator{}, errNoCredentials
	}
	sess, err := st.GetSession(r.Context(), c.Value)
	if errors.Is(err, store.ErrUnauthorized) {
		return Operator{}, errors.New("session expired or unknown: log in again at /admin/login")
	}
	if err != nil {
		return Operator{}, err
	}
	return Operator{Name: sess.TokenName, Session: &sess}, nil
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// csrfOK checks the per-session token of a cookie-authenticated request
// that changes state. Bearer requests carry no ambient credential: exempt.
func csrfOK(r *http.Request, op Operator) bool {
	if op.Session == nil || !unsafeMethod(r.Method) {
		return true
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(op.Session.CSRF)) == 1
}

// apiAuth wraps an operator API handler: 401 without a valid token or
// session, 403 on a cross-origin request or a missing CSRF token.
func (s *Console) apiAuth(h http.HandlerFunc) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, cancel := bounded(r)
		defer cancel()
		op, err := s.authenticate(r)
		if errors.Is(err, store.ErrBusy) || errors.Is(err, store.ErrUnavailable) {
			s.apiFail(w, r, err)
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="probed"`)
			apiError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if !csrfOK(r, op) {
			apiError(w, http.StatusForbidden, "missing or wrong CSRF token (X-CSRF-Token header or csrf form field)")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), operatorKey{}, op)))
	}))
}

// requestWait bounds an operator request's waits for the database: for the
// one writer connection (which every writer queues for while another
// process holds the database locked) and for the incident engine. SQLite's
// busy timeout (5 s) may add its own wait to a statement begun in time.
// Past it the request answers 503 with Retry-After (store.ErrBusy) instead
// of hanging behind the lock.
const requestWait = store.RetryAfter

func bounded(r *http.Request) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), requestWait)
	return r.WithContext(ctx), cancel
}

// consoleAuth wraps a console page: without a session a GET goes to the
// login page, anything else is refused.
func (s *Console) consoleAuth(h http.HandlerFunc) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, cancel := bounded(r)
		defer cancel()
		if unsafeMethod(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			if err := r.ParseForm(); err != nil {
				http.Error(w, s.words.T(s.lang(r), "console.error.form")+": "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		op, err := s.authenticate(r)
		if errors.Is(err, store.ErrUnavailable) {
			// The database is down: no reason to send the operator to log in again.
			s.logger.Error("console: the database cannot be reached; answered 503", "method", r.Method, "path", r.URL.Path, "err", err)
			w.Header().Set("Retry-After", retryAfter)
			http.Error(w, "the database cannot be reached (PostgreSQL down or failing over); retry in "+retryAfter+"s", http.StatusServiceUnavailable)
			return
		}
		if errors.Is(err, store.ErrBusy) {
			// The session could not be read (a lock stops reads on
			// PostgreSQL): neither is it unknown.
			s.logger.Warn("console: database locked; answered 503", "method", r.Method, "path", r.URL.Path, "err", err)
			w.Header().Set("Retry-After", retryAfter)
			http.Error(w, "the database is locked; nothing was changed; retry in "+retryAfter+"s", http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="probed"`)
			http.Error(w, s.words.T(s.lang(r), "console.error.session")+": "+err.Error(), http.StatusUnauthorized)
			return
		}
		if !csrfOK(r, op) {
			http.Error(w, s.words.T(s.lang(r), "console.error.csrf"), http.StatusForbidden)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), operatorKey{}, op)))
	}))
}

// secureCookies: the session cookie is Secure when the page is served over https.
func (s *Console) secureCookies() bool {
	u, err := url.Parse(s.config().Page.URL)
	return err == nil && u.Scheme == "https"
}

// OperatorAuth wraps another package's operator handler (the subscribers
// pages) with the same authentication and CSRF rules as the console.
func (s *Console) OperatorAuth(h http.HandlerFunc) http.Handler { return s.consoleAuth(h) }

// OperatorOnly guards an operator route outside /api/v1 (POST /-/reload):
// with an incident engine (and so tokens) it takes the same auth as the API.
func (s *Console) OperatorOnly(h http.HandlerFunc) http.Handler {
	if s.engine == nil {
		return h
	}
	return s.apiAuth(h)
}
