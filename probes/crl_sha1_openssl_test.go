package probes_test

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
)

// A CRL `openssl ca -gencrl -md sha1` signs today fails exactly
// crl_signature_algorithm (BR §7.1.3.2.1: SHA-1 CRLs ended on 2026-09-15),
// while the signature itself still verifies: the verdict on SHA-1 is the
// policy's, under its own name, not a broken signature.
func TestCRLSHA1OpenSSL(t *testing.T) {
	dp := &crlServer{}
	srv := httptest.NewServer(dp)
	t.Cleanup(srv.Close)
	crlURL := srv.URL + "/crl/issuer.crl"
	ca := newOpenSSLCA(t, freePort(t), crlURL)
	ca.run("ca", "-config", "ca.cnf", "-gencrl", "-md", "sha1", "-out", "crl.pem")
	ca.run("crl", "-in", "crl.pem", "-outform", "DER", "-out", "crl.der")
	der, err := os.ReadFile(ca.path("crl.der"))
	if err != nil {
		t.Fatal(err)
	}
	dp.set(der)

	pr := buildProbe(t, ca.dir, "crl", "{url: "+crlURL+", issuer: issuer.pem}", probes.Env{Clock: clock.Real{}, State: &memState{}})
	r := runProbe(t, pr, clock.Real{}, 10*time.Second)
	wantFailures(t, r, []string{"crl_signature_algorithm"}, []string{})
	c, _ := check(r, "crl_signature_algorithm")
	if want := "the CRL is signed with SHA-1 (ECDSA-SHA1) (BR §7.1.3.2.1: no SHA-1 CRL signatures from 2026-09-15; this one dates from "; !strings.HasPrefix(c.Message, want) {
		t.Fatalf("crl_signature_algorithm: %q, want prefix %q", c.Message, want)
	}
	if c, ok := check(r, "crl_signature"); !ok || !c.OK {
		t.Fatalf("crl_signature: %+v", c)
	}
}
