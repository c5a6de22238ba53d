package pkisim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
)

// ACME faults. Each breaks exactly one check of the acme kind (named in the
// comment) and nothing else critical.
const (
	// ACMEMissingFields: the directory lacks revokeCert and keyChange (acme_directory_fields).
	ACMEMissingFields Fault = "acme_missing_fields"
	// ACMENotHTTPS: the directory's URLs are http:// (acme_directory_https).
	ACMENotHTTPS Fault = "acme_not_https"
	// ACMENonceMissing: newNonce answers without Replay-Nonce (acme_nonce_header).
	ACMENonceMissing Fault = "acme_nonce_missing"
	// ACMENonceBad: Replay-Nonce is padded standard base64, not base64url (acme_nonce_header).
	ACMENonceBad Fault = "acme_nonce_bad"
	// ACMENoCacheHeader: newNonce answers without Cache-Control: no-store
	// (acme_nonce_cache, a warning: the probe still succeeds).
	ACMENoCacheHeader Fault = "acme_no_cache_header"
	// ACMEErrorNotProblem: errors come as text/html, not application/problem+json (acme_error_format).
	ACMEErrorNotProblem Fault = "acme_error_not_problem"
	// ACMESlow: the directory does not answer until the client gives up (acme_directory).
	ACMESlow Fault = "acme_slow"
	// ACMEDown: the connection is closed without a response (acme_directory).
	ACMEDown Fault = "acme_down"
	// ACMEGarbage: the directory is a 200 HTML error page (acme_directory).
	ACMEGarbage Fault = "acme_garbage"
)

// ACMEFaults lists the ACME faults in the order a fault panel shows them.
func ACMEFaults() []Fault {
	return []Fault{ACMEMissingFields, ACMENotHTTPS, ACMENonceMissing, ACMENonceBad, ACMENoCacheHeader, ACMEErrorNotProblem, ACMESlow, ACMEDown, ACMEGarbage}
}

// ACME paths. Only the directory, newNonce and error surface is simulated:
// every POST is answered with a malformed problem.
const (
	ACMEPrefix        = "/acme/"
	ACMEDirectoryPath = "/acme/directory"
	ACMENoncePath     = "/acme/new-nonce"
)

// ACMETermsOfService is the sim directory's meta.termsOfService.
const ACMETermsOfService = "https://sim.probed.test/acme/terms"

// NewTLSServer serves Handler over TLS on loopback, as ACME requires. The
// directory's URLs take the scheme and host of each request, so ACME probes
// point at srv.URL + ACMEDirectoryPath and trust srv.Certificate(). The
// caller closes the server.
func (s *Sim) NewTLSServer() *httptest.Server {
	srv := httptest.NewUnstartedServer(s.Handler())
	// Probes that do not trust the test certificate make handshakes fail;
	// that is their finding, not log noise.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv
}

// serveACME answers under ACMEPrefix.
func (s *Sim) serveACME(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.on(ACMESlow):
		<-r.Context().Done()
		return
	case s.on(ACMEDown):
		hijackClose(w)
		return
	}
	w.Header().Set("Link", "<"+s.acmeURL(r, ACMEDirectoryPath)+`>;rel="index"`)
	switch {
	case r.Method == http.MethodPost:
		s.acmeNonce(w)
		s.acmeProblem(w, http.StatusBadRequest, "malformed", "the sim serves the directory and nonce surface only; it accepts no JWS")
	case r.URL.Path == ACMEDirectoryPath && r.Method == http.MethodGet:
		s.acmeDirectory(w, r)
	case r.URL.Path == ACMENoncePath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.acmeNonce(w)
		if !s.on(ACMENoCacheHeader) {
			w.Header().Set("Cache-Control", "no-store")
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
	case r.URL.Path == ACMEDirectoryPath || r.URL.Path == ACMENoncePath:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.acmeProblem(w, http.StatusMethodNotAllowed, "malformed", "method not allowed")
	default:
		s.acmeProblem(w, http.StatusNotFound, "malformed", "no such ACME resource")
	}
}

func (s *Sim) acmeDirectory(w http.ResponseWriter, r *http.Request) {
	if s.on(ACMEGarbage) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, garbage)
		return
	}
	dir := map[string]any{
		"newNonce":    s.acmeURL(r, ACMENoncePath),
		"newAccount":  s.acmeURL(r, "/acme/new-account"),
		"newOrder":    s.acmeURL(r, "/acme/new-order"),
		"revokeCert":  s.acmeURL(r, "/acme/revoke-cert"),
		"keyChange":   s.acmeURL(r, "/acme/key-change"),
		"renewalInfo": s.acmeURL(r, "/acme/renewal-info"),
		"meta": map[string]any{
			"termsOfService":          ACMETermsOfService,
			"website":                 "https://sim.probed.test/",
			"caaIdentities":           []string{"sim.probed.test"},
			"externalAccountRequired": false,
		},
	}
	if s.on(ACMEMissingFields) {
		delete(dir, "revokeCert")
		delete(dir, "keyChange")
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(dir)
}

// acmeURL makes an absolute URL on the host the request came to, https
// when it came over TLS (always http under ACMENotHTTPS).
func (s *Sim) acmeURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil && !s.on(ACMENotHTTPS) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

// acmeNonce sets a fresh Replay-Nonce (or a broken one under the nonce faults).
func (s *Sim) acmeNonce(w http.ResponseWriter) {
	if s.on(ACMENonceMissing) {
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	n := base64.RawURLEncoding.EncodeToString(b)
	if s.on(ACMENonceBad) {
		// Standard base64 with padding: '+', '/' and '=' are not base64url.
		n = "+/" + base64.StdEncoding.EncodeToString(b)
	}
	w.Header().Set("Replay-Nonce", n)
}

// acmeProblem writes an RFC 7807 problem with an ACME error type.
func (s *Sim) acmeProblem(w http.ResponseWriter, status int, typ, detail string) {
	if s.on(ACMEErrorNotProblem) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html><body><h1>"+strings.ReplaceAll(http.StatusText(status), "<", "")+"</h1></body></html>\n")
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:ietf:params:acme:error:" + typ, "detail": detail, "status": status})
}
