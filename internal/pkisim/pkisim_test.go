package pkisim

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/ocspwire"
	"github.com/probed/probed/internal/testtool"
)

func newTestSim(t *testing.T) (*Sim, string) {
	t.Helper()
	s, srv, err := NewServer(Options{Clock: clock.NewFake(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func openssl(t *testing.T, args ...string) string {
	t.Helper()
	testtool.OpenSSL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestOpenSSLAcceptsSim has openssl, as an independent client, verify the
// sim's OCSP answers (signer chain, delegated EKU) and its CRL signature.
func TestOpenSSLAcceptsSim(t *testing.T) {
	s, base := newTestSim(t)
	dir := t.TempDir()
	if err := s.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	f := func(n string) string { return filepath.Join(dir, n) }
	out := openssl(t, "ocsp", "-issuer", f("issuer.pem"), "-cert", f("good.pem"), "-cert", f("revoked.pem"),
		"-url", base+OCSPPath, "-CAfile", f("root.pem"), "-verify_other", f("issuer.pem"))
	if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, f("good.pem")+": good") || !strings.Contains(out, f("revoked.pem")+": revoked") {
		t.Fatalf("openssl ocsp output:\n%s", out)
	}
	if !strings.Contains(out, "Reason: keyCompromise") {
		t.Fatalf("no reason in:\n%s", out)
	}
	der, err := s.CRL()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f("issuer.crl"), der, 0o644); err != nil {
		t.Fatal(err)
	}
	out = openssl(t, "crl", "-inform", "DER", "-in", f("issuer.crl"), "-CAfile", f("chain.pem"), "-noout", "-text")
	if !strings.Contains(out, "verify OK") || !strings.Contains(out, strings.ToUpper(s.Revoked().SerialNumber.Text(16))) {
		t.Fatalf("openssl crl output:\n%s", out)
	}
	if !strings.Contains(out, "Issuing Distribution Point: critical") || !strings.Contains(out, base+CRLPath) {
		t.Fatalf("no IDP in:\n%s", out)
	}
}

// TestGETWithSlashAndPlus sends a GET whose base64 has '/' and '+',
// URL-encoded and raw, and expects the same good answer.
func TestGETWithSlashAndPlus(t *testing.T) {
	s, base := newTestSim(t)
	id, err := ocspwire.NewCertID(crypto.SHA1, s.Issuer(), s.Good().SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ocspwire.MarshalRequest([]ocspwire.CertID{id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.StdEncoding.EncodeToString(der)
	if !strings.Contains(enc, "/") || !strings.Contains(enc, "+") {
		t.Fatalf("serial's encoding %s lacks / or +", enc)
	}
	for _, path := range []string{url.PathEscape(enc), enc} {
		resp, err := http.Get(base + OCSPPath + "/" + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		p, err := ocspwire.ParseResponse(body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if p.Status != ocspwire.Successful || p.Basic.TBSResponseData.Responses[0].CertStatus.Tag != ocspwire.StatusGood {
			t.Fatalf("GET %s: status %v", path, p.Status)
		}
	}
}

func TestFaultsListAndSet(t *testing.T) {
	s, _ := newTestSim(t)
	all := s.Faults()
	if len(all) != len(KnownFaults()) {
		t.Fatalf("Faults has %d entries, KnownFaults %d", len(all), len(KnownFaults()))
	}
	s.Set(CRLExpired, true)
	if !s.Faults()[CRLExpired] {
		t.Fatal("fault not on after Set")
	}
	s.Set(CRLExpired, false)
	if s.Faults()[CRLExpired] {
		t.Fatal("fault still on")
	}
}

func TestTSASignerEKUCritical(t *testing.T) {
	s, _ := newTestSim(t)
	c := s.TSASigner()
	found := false
	for _, e := range c.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			found = e.Critical
		}
	}
	if !found || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		t.Fatalf("TSA EKU %v critical=%v", c.ExtKeyUsage, found)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool(s.TSARoot()), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, CurrentTime: s.Clock().Now()}); err != nil {
		t.Fatal(err)
	}
	_ = asn1.NullBytes
}

func pool(cs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c)
	}
	return p
}

// TestConcurrentUse hammers OCSP and the CRL while faults flip, so the race
// detector can see the sim's locking (run with -race).
func TestConcurrentUse(t *testing.T) {
	s, base := newTestSim(t)
	id, err := ocspwire.NewCertID(crypto.SHA256, s.Issuer(), s.Good().SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ocspwire.MarshalRequest([]ocspwire.CertID{id}, []byte("nonce"))
	if err != nil {
		t.Fatal(err)
	}
	faults := []Fault{OCSPStale, OCSPWrongSigner, OCSPTryLater, CRLExpired, CRLHold, CRLNumberBack}
	errs := make(chan error, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			s.Set(faults[i%len(faults)], i%2 == 0)
			_ = s.Faults()
		}
	}()
	for w := range 4 {
		go func() {
			for range 25 {
				var resp *http.Response
				var err error
				if w%2 == 0 {
					resp, err = http.Post(base+OCSPPath, "application/ocsp-request", strings.NewReader(string(der)))
				} else {
					resp, err = http.Get(base + CRLPath)
				}
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				errs <- err
			}
		}()
	}
	for range 100 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	<-done
}
