package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTestPKI writes root.pem and a PKCS#8 account key into dir.
func writeTestPKI(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"root.pem":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"acct.key":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
		"garbage.pem": []byte("not a certificate"),
		"token":       []byte("Bearer abc\n"),
		"eab.key":     []byte("zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W\n"),
		"bad-eab.key": []byte("not base64url!\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func parseSection(t *testing.T, dir, kind, section string) (*Config, error) {
	t.Helper()
	doc := "components: [{id: c, name: C}]\nprobes:\n  - name: p\n    component: c\n    kind: " + kind + "\n    " + kind + ": " + section + "\n"
	return Parse([]byte(doc), filepath.Join(dir, "probes.yaml"), []string{"acme", "http", "tsa"})
}

func TestTSADefaultsAndParsing(t *testing.T) {
	dir := t.TempDir()
	writeTestPKI(t, dir)
	t.Setenv("PROBED_TEST_TSA_KEY", "k-123")
	cfg, err := parseSection(t, dir, "tsa", "{url: https://tsa.example.com/, roots: root.pem, policy: 1.2.3.4.1, allowed_policies: [2.16.840.1.114412.7.1], header_files: {Authorization: token}, header_env: {X-Key: PROBED_TEST_TSA_KEY}, headers: {X-Client: probed}}")
	if err != nil {
		t.Fatal(err)
	}
	ts := cfg.Probes[0].TSA
	if ts.HashFunc.String() != "SHA-256" || !ts.CertReq || ts.MaxSkew.D() != time.Second || ts.MaxAccuracy.D() != 0 || ts.MaxBodyBytes != 256<<10 || ts.SignerExpiryWarning.D() != 30*24*time.Hour {
		t.Fatalf("defaults not applied: %+v", ts)
	}
	if ts.PolicyOID.String() != "1.2.3.4.1" || len(ts.AllowedPolicyOIDs) != 1 || ts.AllowedPolicyOIDs[0].String() != "2.16.840.1.114412.7.1" {
		t.Fatalf("policies: %v %v", ts.PolicyOID, ts.AllowedPolicyOIDs)
	}
	if ts.RootPool == nil || len(ts.RootCerts) != 1 {
		t.Fatal("roots not loaded")
	}
	if got := ts.RequestHeader.Get("Authorization"); got != "Bearer abc" {
		t.Fatalf("Authorization from value_file = %q", got)
	}
	if got := ts.RequestHeader.Get("X-Client"); got != "probed" {
		t.Fatalf("X-Client inline = %q", got)
	}
	if got := ts.RequestHeader.Get("X-Key"); got != "k-123" {
		t.Fatalf("X-Key from value_env = %q", got)
	}
}

func TestTSAInvalid(t *testing.T) {
	dir := t.TempDir()
	writeTestPKI(t, dir)
	for _, tc := range []struct{ section, want string }{
		{"{url: ftp://x, roots: root.pem}", `probes[0].tsa.url: must be an absolute http(s) URL, got "ftp://x"`},
		{"{url: http://x, roots: root.pem, hash: sha1}", `probes[0].tsa.hash: must be sha256, sha384 or sha512, got "sha1"`},
		{"{url: http://x}", "probes[0].tsa.roots: required: a PEM file of the root certificates the TSA signer must chain to"},
		{"{url: http://x, roots: missing.pem}", "probes[0].tsa.roots: cannot read certificate file"},
		{"{url: http://x, roots: garbage.pem}", "probes[0].tsa.roots: garbage.pem: no PEM certificate and not a DER certificate"},
		{"{url: http://x, roots: root.pem, policy: 1.x.3}", `probes[0].tsa.policy: must be a dotted OID such as 1.2.3.4, got "1.x.3"`},
		{"{url: http://x, roots: root.pem, allowed_policies: [1.2.3, 7.1]}", `probes[0].tsa.allowed_policies[1]: is not a valid OID (first arc 0-2, second arc 0-39 under 0 and 1), got "7.1"`},
		{"{url: http://x, roots: root.pem, max_body_bytes: 0}", "probes[0].tsa.max_body_bytes: must be positive, got 0"},
		{"{url: http://x, roots: root.pem, headers: {Authorization: 'Bearer x'}}", "probes[0].tsa.headers.Authorization: header Authorization carries a secret: give it in header_files or header_env, never inline"},
		{"{url: http://x, roots: root.pem, header_files: {A: nope}}", "probes[0].tsa.header_files.A: cannot read nope: no such file or directory"},
		{"{url: http://x, roots: root.pem, header_env: {A: PROBED_TEST_UNSET_VAR}}", "probes[0].tsa.header_env.A: environment variable PROBED_TEST_UNSET_VAR is not set"},
		{"{url: http://x, roots: root.pem, headers: {'Bad Name': x}}", `probes[0].tsa.headers.Bad Name: must be an HTTP header name, got "Bad Name"`},
		{"{url: http://x, roots: root.pem, headers: {X-A: x}, header_files: {x-a: token}}", "probes[0].tsa.headers.X-A: header X-A is given more than once across headers, header_files and header_env"},
		{"{url: http://x, roots: root.pem, certreq: true}", "probes[0].tsa.certreq: unknown key (did you mean cert_req?)"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := parseSection(t, dir, "tsa", tc.section)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "probes.yaml:6: ") {
				t.Fatalf("error %q lacks file:line", err)
			}
		})
	}
}

func TestACMEParsing(t *testing.T) {
	dir := t.TempDir()
	writeTestPKI(t, dir)
	cfg, err := parseSection(t, dir, "acme", "{directory: https://acme.example.com/directory, roots: root.pem, expect_eab: true, expect_meta: [termsOfService], deep: {key_file: acct.key, contact: 'mailto:ops@example.com', identifier: probe.example.com, eab_kid: kid-1, eab_hmac_file: eab.key}}")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Probes[0].ACME
	if a.RootPool == nil || a.ExpectEAB == nil || !*a.ExpectEAB || a.MaxBodyBytes != 64<<10 {
		t.Fatalf("acme: %+v", a)
	}
	if a.Deep.Key == nil || len(a.Deep.EABHMAC) != 48 {
		t.Fatalf("deep: key %v, hmac %d bytes", a.Deep.Key, len(a.Deep.EABHMAC))
	}
}

func TestACMEInvalid(t *testing.T) {
	dir := t.TempDir()
	writeTestPKI(t, dir)
	for _, tc := range []struct{ section, want string }{
		{"{directory: 'http://acme.example.com/dir'}", `probes[0].acme.directory: must be https (RFC 8555 §6.1), got "http://acme.example.com/dir"`},
		{"{directory: '/dir'}", `probes[0].acme.directory: must be an absolute https URL, got "/dir"`},
		{"{directory: 'https://a/d', roots: garbage.pem}", "probes[0].acme.roots: garbage.pem: no PEM certificate"},
		{"{directory: 'https://a/d', max_body_bytes: -1}", "probes[0].acme.max_body_bytes: must be positive, got -1"},
		{"{directory: 'https://a/d', deep: {identifier: a.example.com}}", "probes[0].acme.deep.key_file: required: a PEM account key"},
		{"{directory: 'https://a/d', deep: {key_file: root.pem, identifier: a.example.com}}", "probes[0].acme.deep.key_file: root.pem: no PEM private key"},
		{"{directory: 'https://a/d', deep: {key_file: acct.key}}", "probes[0].acme.deep.identifier: required: a DNS name"},
		{"{directory: 'https://a/d', deep: {key_file: acct.key, identifier: 'http://x'}}", `probes[0].acme.deep.identifier: must be a DNS name, got "http://x"`},
		{"{directory: 'https://a/d', deep: {key_file: acct.key, identifier: a.example.com, eab_kid: k}}", "probes[0].acme.deep.eab_kid: give both eab_kid and eab_hmac_file, or neither"},
		{"{directory: 'https://a/d', deep: {key_file: acct.key, identifier: a.example.com, eab_kid: k, eab_hmac_file: bad-eab.key}}", "probes[0].acme.deep.eab_hmac_file: bad-eab.key must hold the base64url HMAC key the CA issued"},
		{"{directory: 'https://a/d', deep: {key_file: acct.key, identifier: a.example.com, contact: 'ops'}}", `probes[0].acme.deep.contact: must be a URL such as mailto:pki-ops@example.com, got "ops"`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := parseSection(t, dir, "acme", tc.section)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
		})
	}
}
