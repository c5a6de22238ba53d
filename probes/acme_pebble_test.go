package probes

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"github.com/probed/probed/internal/clock"
)

// pebbleEAB is the HMAC key (base64url) pebble binds to kid "kid-1" when EAB is on.
const pebbleEAB = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"

// pebbleServer is Pebble v2.10.1 in-process, wired as cmd/pebble/main.go
// does (memory store, CA, VA, WFE) and served over httptest TLS. dir holds
// roots.pem (the server's certificate) and acct.key.
type pebbleServer struct {
	url string // directory URL
	dir string
}

func newPebble(t testing.TB, requireEAB bool, wrap func(http.Handler) http.Handler) *pebbleServer {
	t.Helper()
	// Pebble rejects 5% of good nonces by default; the badNonce path is
	// tested deterministically with wrap instead.
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "The default profile"}})
	validator := va.New(logger, 0, 0, false, "", store)
	if requireEAB {
		if err := store.AddExternalAccountKeyByID("kid-1", pebbleEAB); err != nil {
			t.Fatal(err)
		}
	}
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, requireEAB, 0, 0)
	var h http.Handler = front.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-roots test makes handshakes fail
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	taWriteFile(t, filepath.Join(dir, "roots.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	taWriteFile(t, filepath.Join(dir, "acct.key"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})))
	key2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der2, err := x509.MarshalPKCS8PrivateKey(key2)
	if err != nil {
		t.Fatal(err)
	}
	taWriteFile(t, filepath.Join(dir, "acct2.key"), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der2})))
	taWriteFile(t, filepath.Join(dir, "eab.key"), pebbleEAB+"\n")
	return &pebbleServer{url: srv.URL + wfe.DirectoryPath, dir: dir}
}

// acmeBasicChecks hold on Pebble. acme_nonce_cache does not: Pebble sends
// "public, max-age=0, no-cache", not no-store, which is why that check is
// only a warning.
var acmeBasicChecks = []string{"acme_directory", "acme_directory_fields", "acme_directory_https", "acme_meta", "acme_nonce_status", "acme_nonce_header", "acme_error_format"}

func assertNonceCacheWarning(t *testing.T, r *Report) {
	t.Helper()
	c, ok := taFindCheck(r, "acme_nonce_cache")
	if !ok || c.OK || c.Severity != Warning || !strings.Contains(c.Message, `"public, max-age=0, no-cache", want no-store`) {
		t.Fatalf("acme_nonce_cache = %+v, want a warning about no-store", c)
	}
}

func TestACMEPebbleDirectoryAndNonce(t *testing.T) {
	p := newPebble(t, false, nil)
	pr := taBuild(t, p.dir, "acme", fmt.Sprintf("{directory: %s, roots: roots.pem, expect_eab: false, expect_ari: true, expect_meta: [termsOfService, caaIdentities]}", p.url), Env{})
	r := taRun(t, pr, clock.Real{})
	taAssertFailed(t, r)
	taAssertPassed(t, r, append(acmeBasicChecks, "acme_eab", "acme_ari")...)
	assertNonceCacheWarning(t, r)
	taAssertMessage(t, r, "acme_meta", "termsOfService data:text/plain", "renewalInfo https://")
	taAssertMessage(t, r, "acme_error_format", "HTTP 400 problem+json urn:ietf:params:acme:error:malformed")
	for name, want := range map[string]float64{"probe_acme_directory_success": 1, "probe_acme_nonce_success": 1, "probe_acme_eab_required": 0, "probe_acme_ari_supported": 1} {
		if v, ok := taSample(r, name); !ok || v != want {
			t.Errorf("%s = %v, %v; want %v", name, v, ok, want)
		}
	}
	if _, ok := taSample(r, "probe_acme_deep_check_success"); ok {
		t.Error("deep check metric exported without a deep check")
	}
	if _, ok := taSample(r, "probe_tls_cert_expiry_timestamp_seconds"); !ok {
		t.Error("no TLS expiry sample")
	}
}

func TestACMEPebbleUntrusted(t *testing.T) {
	p := newPebble(t, false, nil)
	pr := taBuild(t, p.dir, "acme", fmt.Sprintf("{directory: %s}", p.url), Env{})
	r := taRun(t, pr, clock.Real{})
	taAssertFailed(t, r, "acme_directory")
	taAssertMessage(t, r, "acme_directory", "TLS certificate not trusted")
	if v, _ := taSample(r, "probe_acme_directory_success"); v != 0 {
		t.Errorf("directory success = %v", v)
	}
}

func TestACMEPebbleDeep(t *testing.T) {
	p := newPebble(t, false, nil)
	pr := taBuild(t, p.dir, "acme", fmt.Sprintf("{directory: %s, roots: roots.pem, deep: {key_file: acct.key, contact: 'mailto:pki-ops@example.com', identifier: probe.example.com}}", p.url), Env{})
	r := taRun(t, pr, clock.Real{})
	taAssertFailed(t, r)
	taAssertPassed(t, r, append(acmeBasicChecks, "acme_deep_account", "acme_deep_order", "acme_deep_deactivate")...)
	assertNonceCacheWarning(t, r)
	taAssertMessage(t, r, "acme_deep_account", "account created")
	taAssertMessage(t, r, "acme_deep_deactivate", "1 authorization(s) deactivated")
	if v, ok := taSample(r, "probe_acme_deep_check_success"); !ok || v != 1 {
		t.Fatalf("deep success = %v, %v", v, ok)
	}
	// The second run reuses the account the key already has.
	r = taRun(t, pr, clock.Real{})
	taAssertFailed(t, r)
	taAssertMessage(t, r, "acme_deep_account", "existing account found")
}

func TestACMEPebbleEAB(t *testing.T) {
	p := newPebble(t, true, nil)
	pr := taBuild(t, p.dir, "acme", fmt.Sprintf("{directory: %s, roots: roots.pem, expect_eab: true, deep: {key_file: acct.key, identifier: probe.example.com, eab_kid: kid-1, eab_hmac_file: eab.key}}", p.url), Env{})
	r := taRun(t, pr, clock.Real{})
	taAssertFailed(t, r)
	taAssertPassed(t, r, "acme_eab", "acme_deep_account", "acme_deep_order", "acme_deep_deactivate")
	if v, _ := taSample(r, "probe_acme_eab_required"); v != 1 {
		t.Errorf("eab_required = %v", v)
	}

	// Without the binding the account step fails with the server's problem,
	// and expect_eab: false catches the policy change.
	pr = taBuild(t, p.dir, "acme", fmt.Sprintf("{directory: %s, roots: roots.pem, expect_eab: false, deep: {key_file: acct2.key, identifier: probe.example.com}}", p.url), Env{})
	r = taRun(t, pr, clock.Real{})
	taAssertFailed(t, r, "acme_eab", "acme_deep_account")
	taAssertMessage(t, r, "acme_deep_account", "externalAccountRequired")
	if v, _ := taSample(r, "probe_acme_deep_check_success"); v != 0 {
		t.Errorf("deep success = %v", v)
	}
}

// badNonceOnce answers the first n signed POSTs to Pebble's newAccount with
// a badNonce problem, as a server whose nonce store was flushed does. (The
// probe's unsigned error-format POST passes through.)
func badNonceOnce(n int32) func(http.Handler) http.Handler {
	var left atomic.Int32
	left.Store(n)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			signed := bytes.Contains(body, []byte(`"protected"`))
			if r.Method == http.MethodPost && signed && strings.HasSuffix(r.URL.Path, "/sign-me-up") && left.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "application/problem+json")
				w.Header().Set("Replay-Nonce", "cmVqZWN0ZWQtbm9uY2U")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce","status":400}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestACMEPebbleBadNonceRetry(t *testing.T) {
	p := newPebble(t, false, badNonceOnce(1))
	pr := taBuild(t, p.dir, "acme", fmt.Sprintf("{directory: %s, roots: roots.pem, deep: {key_file: acct.key, identifier: probe.example.com}}", p.url), Env{})
	r := taRun(t, pr, clock.Real{})
	taAssertFailed(t, r)
	taAssertMessage(t, r, "acme_deep_account", "account created", "retried once after badNonce")

	// Two badNonce answers in a row: one retry only, then the check fails.
	p = newPebble(t, false, badNonceOnce(2))
	pr = taBuild(t, p.dir, "acme", fmt.Sprintf("{directory: %s, roots: roots.pem, deep: {key_file: acct.key, identifier: probe.example.com}}", p.url), Env{})
	r = taRun(t, pr, clock.Real{})
	taAssertFailed(t, r, "acme_deep_account")
	taAssertMessage(t, r, "acme_deep_account", "retried once after badNonce", "badNonce")
}

func TestACMEKeyFileNeverLogged(t *testing.T) {
	p := newPebble(t, true, nil)
	secret, err := os.ReadFile(filepath.Join(p.dir, "eab.key"))
	if err != nil {
		t.Fatal(err)
	}
	pr := taBuild(t, p.dir, "acme", fmt.Sprintf("{directory: %s, roots: roots.pem, deep: {key_file: acct.key, identifier: probe.example.com, eab_kid: kid-1, eab_hmac_file: eab.key}}", p.url), Env{})
	r := taRun(t, pr, clock.Real{})
	for _, c := range r.Checks() {
		if strings.Contains(c.Message+fmt.Sprint(c.Evidence), strings.TrimSpace(string(secret))) {
			t.Fatalf("check %s leaks the EAB key", c.Name)
		}
	}
}
