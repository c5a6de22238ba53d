package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"github.com/probed/probed/status"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/mailsink"
	"github.com/probed/probed/store"
)

func (e *env) pending() int {
	e.t.Helper()
	n, err := e.st.PendingDeliveries(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) failed(reason string) float64 {
	return testutil.ToFloat64(e.worker.failed.WithLabelValues(reason))
}

func TestTemporaryFailureIsRetriedWithBackoff(t *testing.T) {
	e := newEnv(t)
	e.add("greylisted@example.com", "ocsp")
	e.add("fine@example.com", "ocsp")
	var mu sync.Mutex
	refusals := 2
	e.smtp.OnRcpt(func(to string) error {
		mu.Lock()
		defer mu.Unlock()
		if to == "greylisted@example.com" && refusals > 0 {
			refusals--
			return mailsink.Reply(451, "greylisted, try again later")
		}
		return nil
	})
	e.publish("OCSP slow", "ocsp")
	e.drain()
	if got := e.smtp.Received(); got["fine@example.com"] != 1 || got["greylisted@example.com"] != 0 {
		t.Fatalf("after the first pass: %v", got)
	}
	if e.pending() != 1 || e.failed(ReasonTemporary) != 1 {
		t.Fatalf("pending %d, temporary failures %v; want 1 and 1", e.pending(), e.failed(ReasonTemporary))
	}
	e.drain() // not due yet: nothing happens
	if e.failed(ReasonTemporary) != 1 {
		t.Fatal("retried before the backoff passed")
	}
	e.clk.Advance(time.Minute) // retry.initial
	e.drain()
	if e.failed(ReasonTemporary) != 2 || e.pending() != 1 {
		t.Fatalf("second attempt: temporary %v pending %d", e.failed(ReasonTemporary), e.pending())
	}
	e.clk.Advance(time.Minute) // the backoff doubled: 2m, so not yet
	e.drain()
	if e.failed(ReasonTemporary) != 2 {
		t.Fatal("retried before the doubled backoff passed")
	}
	e.clk.Advance(time.Minute)
	e.drain()
	if got := e.smtp.Received(); got["greylisted@example.com"] != 1 || got["fine@example.com"] != 1 || e.pending() != 0 {
		t.Fatalf("after the backoff: received %v, pending %d; want one each, none pending", got, e.pending())
	}
	if sub, _ := e.st.SubscriberByAddress(e.ctx, store.SubscriberEmail, "greylisted@example.com"); sub.State != store.SubscriberActive || sub.Failures != 0 {
		t.Errorf("a retried address = %+v, want active without failures", sub)
	}
}

func TestTemporaryFailureGivesUpAfterTheLimit(t *testing.T) {
	e := newEnv(t)
	e.add("full@example.com", "ocsp")
	e.smtp.OnRcpt(func(string) error { return mailsink.Reply(452, "mailbox full") })
	e.publish("OCSP slow", "ocsp")
	e.drain()
	for range 10 {
		e.clk.Advance(10 * time.Minute)
		e.drain()
	}
	if e.pending() != 0 || e.failed(ReasonExpired) != 1 {
		t.Fatalf("pending %d expired %v: after give_up_after (1h) the delivery fails for good", e.pending(), e.failed(ReasonExpired))
	}
	if c, _ := e.st.DeliveryCounts(e.ctx, 0); c["failed"] != 1 {
		t.Errorf("outbox %v, want the delivery failed", c)
	}
}

func TestPermanentFailuresQuarantineTheAddress(t *testing.T) {
	e := newEnv(t)
	bad := e.add("gone@example.com", "ocsp")
	e.add("fine@example.com", "ocsp")
	e.smtp.OnRcpt(func(to string) error {
		if to == "gone@example.com" {
			return mailsink.Reply(550, "no such user")
		}
		return nil
	})
	for i := range 3 {
		e.publish("OCSP incident "+itoa(int64(i)), "ocsp")
		e.drain()
	}
	if got := e.smtp.Received(); got["fine@example.com"] != 3 || got["gone@example.com"] != 0 {
		t.Errorf("received %v", got)
	}
	// quarantine_after: 2 → two 5xx, then no third attempt.
	if e.failed(ReasonPermanent) != 2 || testutil.ToFloat64(e.worker.quarantined) != 1 {
		t.Errorf("permanent %v quarantined %v, want 2 and 1", e.failed(ReasonPermanent), testutil.ToFloat64(e.worker.quarantined))
	}
	sub, _ := e.st.Subscriber(e.ctx, bad.ID)
	if sub.State != store.SubscriberQuarantined || !strings.Contains(sub.LastError, "550") {
		t.Errorf("bad address = %+v, want quarantined with the 550", sub)
	}
	if e.pending() != 0 {
		t.Errorf("pending = %d: nothing may linger for a quarantined address", e.pending())
	}
	// The operator adds it again (the mailbox is back): active, failures cleared.
	again := e.add("gone@example.com", "ocsp")
	if again.State != store.SubscriberActive || again.Failures != 0 {
		t.Errorf("re-added = %+v", again)
	}
}

func TestRelayDownThenBackLosesNothing(t *testing.T) {
	e := newEnv(t)
	for _, a := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		e.add(a, "crl")
	}
	e.smtp.Down()
	e.publish("CRL stale", "crl")
	e.drain()
	if e.pending() != 3 || e.failed(ReasonConnection) != 3 || testutil.ToFloat64(e.worker.failed.WithLabelValues(ReasonPermanent)) != 0 {
		t.Fatalf("relay down: pending %d, connection failures %v", e.pending(), e.failed(ReasonConnection))
	}
	if d := e.worker.smtpDown(); d != time.Minute {
		t.Errorf("backing off the relay for %s, want retry.initial 1m", d)
	}
	e.drain() // still backing off: no dial at all
	if e.failed(ReasonConnection) != 3 {
		t.Errorf("dialled again during the backoff")
	}
	if err := e.smtp.Up(); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	e.drain()
	got := e.smtp.Received()
	for _, a := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if got[a] != 1 {
			t.Errorf("%s got %d mails, want exactly 1", a, got[a])
		}
	}
	if e.pending() != 0 || e.worker.smtpDown() > 0 {
		t.Errorf("pending %d, still down %v", e.pending(), e.worker.smtpDown())
	}
}

func TestSlowRelayTimesOutAndIsRetried(t *testing.T) {
	e := newEnv(t)
	e.add("a@example.com", "crl")
	e.smtp.Hold() // answers nothing within notify.smtp.timeout (2s)
	e.publish("CRL stale", "crl")
	e.drain()
	if e.pending() != 1 || e.failed(ReasonConnection) != 1 {
		t.Fatalf("slow relay: pending %d connection failures %v, want 1 and 1", e.pending(), e.failed(ReasonConnection))
	}
	e.smtp.Release()
	e.clk.Advance(time.Minute)
	e.drain()
	if got := e.smtp.Received(); got["a@example.com"] != 1 || e.pending() != 0 {
		t.Errorf("after the relay recovered: %v, pending %d", got, e.pending())
	}
}

func TestConnectionReuseAndPerConnectionLimit(t *testing.T) {
	e := newEnv(t)
	if err := addSubscribers(e.ctx, e.st, addrs("u", 45), []string{"ocsp"}); err != nil {
		t.Fatal(err)
	}
	e.publish("OCSP", "ocsp")
	e.drain()
	if e.smtp.Total() != 45 {
		t.Fatalf("delivered %d, want 45", e.smtp.Total())
	}
	// per_connection: 10 → 5 connections for 45 messages, not 45.
	if c := e.smtp.Connections(); c != 5 {
		t.Errorf("%d SMTP connections for 45 messages, want 5 (10 per connection)", c)
	}
}

// addSubscribers adds active e-mail subscribers the way an operator does,
// one AddSubscriber each (about 0.3 ms apiece on a laptop).
func addSubscribers(ctx context.Context, st *store.Store, addresses, components []string) error {
	for _, a := range addresses {
		if _, err := st.AddSubscriber(ctx, store.SubscriberEmail, a, components, ""); err != nil {
			return err
		}
	}
	return nil
}

func addrs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + itoa(int64(i)) + "@example.com"
	}
	return out
}

func TestSTARTTLSAndAuth(t *testing.T) {
	cert, pool := selfSigned(t)
	srv, err := mailsink.Start(mailsink.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Username: "status", Password: "pa55"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	pw := filepath.Join(dir, "smtp-password")
	os.WriteFile(pw, []byte("pa55\n"), 0o600)
	e := newEnvWith(t, srv, "  # replaced below")
	e.cfg.Notify.SMTP.TLS = "starttls"
	e.cfg.Notify.SMTP.Username = "status"
	e.cfg.Notify.SMTP.Password = "pa55"
	e.worker.opts.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	e.add("a@example.com", "ocsp")
	e.publish("OCSP", "ocsp")
	e.drain()
	if srv.Total() != 1 {
		t.Fatalf("STARTTLS + AUTH: delivered %d, want 1 (connection failures %v)", srv.Total(), e.failed(ReasonConnection))
	}
	// A wrong password is a relay problem: retried, the subscriber not blamed.
	e.cfg.Notify.SMTP.Password = "wrong"
	e.publish("OCSP again", "ocsp")
	e.drain()
	if srv.Total() != 1 || e.pending() != 1 || e.failed(ReasonConnection) != 1 {
		t.Errorf("wrong password: delivered %d pending %d connection failures %v", srv.Total(), e.pending(), e.failed(ReasonConnection))
	}
	// Without the server's roots STARTTLS verification fails: nothing sent in clear.
	e.cfg.Notify.SMTP.Password = "pa55"
	e.worker.opts.TLSConfig = nil
	e.clk.Advance(time.Minute)
	e.drain()
	if srv.Total() != 1 || e.pending() != 1 {
		t.Errorf("unverified TLS: delivered %d pending %d; want nothing sent", srv.Total(), e.pending())
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

type hookCall struct {
	header  http.Header
	payload WebhookPayload
	verr    error
}

func TestWebhooksSignedRetriedAndQuarantined(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var calls []hookCall
	answers := []int{http.StatusServiceUnavailable, http.StatusOK, http.StatusOK}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p WebhookPayload
		json.Unmarshal(body, &p)
		mu.Lock()
		calls = append(calls, hookCall{header: r.Header.Clone(), payload: p, verr: VerifyWebhook("s3cret", r.Header.Get(HeaderSignature), body, e.clk.Now(), 5*time.Minute)})
		code := http.StatusOK
		if len(answers) > 0 {
			code, answers = answers[0], answers[1:]
		}
		mu.Unlock()
		w.WriteHeader(code)
	}))
	defer hook.Close()
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer gone.Close()
	if _, secret, err := e.subs.Add(e.ctx, AddRequest{WebhookURL: hook.URL + "/probed", Components: []string{"ocsp"}, Secret: "s3cret"}); err != nil || secret != "s3cret" {
		t.Fatal(secret, err)
	}
	if _, secret, err := e.subs.Add(e.ctx, AddRequest{WebhookURL: gone.URL, Components: []string{"ocsp"}}); err != nil || len(secret) != 64 {
		t.Fatalf("generated secret %q, %v", secret, err)
	}
	inc := e.publish("OCSP down", "ocsp")
	e.drain()
	if e.failed(ReasonWebhookTemporary) != 1 || e.failed(ReasonWebhookPermanent) != 1 {
		t.Fatalf("first pass: temporary %v permanent %v", e.failed(ReasonWebhookTemporary), e.failed(ReasonWebhookPermanent))
	}
	e.clk.Advance(time.Minute)
	e.drain()
	mu.Lock()
	if len(calls) != 2 {
		t.Fatalf("hook called %d times, want 2 (503 then 200)", len(calls))
	}
	for i, c := range calls {
		if c.verr != nil {
			t.Errorf("call %d: signature: %v", i, c.verr)
		}
		if c.header.Get(HeaderEvent) != store.EventIncidentPublished || c.header.Get("Content-Type") != "application/json" {
			t.Errorf("call %d headers %v", i, c.header)
		}
	}
	if calls[0].header.Get(HeaderDelivery) == "" || calls[0].header.Get(HeaderDelivery) != calls[1].header.Get(HeaderDelivery) {
		t.Errorf("delivery ids %q and %q: a retry must carry the same id", calls[0].header.Get(HeaderDelivery), calls[1].header.Get(HeaderDelivery))
	}
	p := calls[1].payload
	if p.Incident.ID != itoa(inc.ID) || p.Incident.Name != "OCSP down" || p.Incident.Status != status.StatusInvestigating ||
		len(p.Incident.IncidentUpdates) != 1 || p.Incident.IncidentUpdates[0].Status != status.StatusInvestigating ||
		p.Incident.Shortlink != "http://status.example.test/incidents/"+itoa(inc.ID) || !strings.Contains(p.Meta.Unsubscribe, "/unsubscribe?t=") ||
		len(p.Incident.Components) != 1 || p.Incident.Components[0].Name != "Online Certificate Status Protocol (OCSP)" || p.Page.Name != "Example CA" {
		t.Errorf("payload = %+v", p)
	}
	mu.Unlock()
	// A forged or altered body fails verification.
	if err := VerifyWebhook("s3cret", SignWebhook("s3cret", e.clk.Now(), []byte(`{"a":1}`)), []byte(`{"a":2}`), e.clk.Now(), time.Minute); err == nil {
		t.Error("altered body verified")
	}
	// The 410 endpoint fails for good once more: quarantined (quarantine_after 2).
	e.publish("OCSP down again", "ocsp")
	e.drain()
	subs, _ := e.st.Subscribers(e.ctx, store.SubscriberQuarantined)
	if len(subs) != 1 || subs[0].Address != gone.URL {
		t.Errorf("quarantined = %+v, want the 410 endpoint", subs)
	}
}

func TestPacerSpacesSends(t *testing.T) {
	var p pacer
	t0 := time.Unix(1000, 0)
	var waits []time.Duration
	for range 4 {
		w, _ := p.reserve(t0, 2) // 2 a second, all asked at once
		waits = append(waits, w)
	}
	want := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits = %v, want %v", waits, want)
		}
	}
	t1 := t0.Add(10 * time.Second)
	if w, _ := p.reserve(t1, 2); w != 0 {
		t.Errorf("after idling the first send waits %v, want 0", w)
	}
	if w, _ := p.reserve(t1, 2); w != 500*time.Millisecond {
		t.Errorf("the second send after idling waits %v, want 500ms (no burst credit beyond one)", w)
	}
	// A wait given up (the worker stopped) gives its slot back.
	w, cancel := p.reserve(t1, 2)
	if w != time.Second {
		t.Fatalf("third send waits %v, want 1s", w)
	}
	cancel()
	if w, _ := p.reserve(t1, 2); w != time.Second {
		t.Errorf("after a cancelled slot the next waits %v, want the same 1s", w)
	}
	if w, _ := p.reserve(t0, 0); w != 0 {
		t.Errorf("rate 0 waits %v, want no cap", w)
	}
}

func TestHangingWebhookTimesOutAndIsRetried(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	defer close(release)
	e.cfg.Notify.WebhookTimeout = config.Duration(time.Second) // a reload applies to the next post
	if _, _, err := e.subs.Add(e.ctx, AddRequest{WebhookURL: hook.URL, Components: []string{"crl"}}); err != nil {
		t.Fatal(err)
	}
	e.publish("CRL stale", "crl")
	e.drain()
	if e.failed(ReasonWebhookTemporary) != 1 || e.pending() != 1 {
		t.Errorf("hanging webhook: temporary %v pending %d, want 1 and 1 (retried later)", e.failed(ReasonWebhookTemporary), e.pending())
	}
}
