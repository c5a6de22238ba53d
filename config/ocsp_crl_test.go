package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeOCSPPKI writes issuer.pem, leaf.pem (issued by it, with an AIA OCSP
// URL), noaia.pem (no AIA) and other.pem (issued by another CA).
func writeOCSPPKI(t *testing.T, dir string) {
	t.Helper()
	now := time.Now()
	ca := func(cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, key
	}
	issuer, issuerKey := ca("issuer")
	other, otherKey := ca("other")
	leaf := func(parent *x509.Certificate, key *ecdsa.PrivateKey, serial int64, aia []string) []byte {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), OCSPServer: aia}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, k.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	files := map[string][]byte{
		"issuer.pem": issuer.Raw,
		"leaf.pem":   leaf(issuer, issuerKey, 0x1234, []string{"http://ocsp.example.com/"}),
		"noaia.pem":  leaf(issuer, issuerKey, 0x1235, nil),
		"other.pem":  leaf(other, otherKey, 0x1236, []string{"http://ocsp.other.example/"}),
	}
	for name, der := range files {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func parsePKI(t *testing.T, dir, kind, section string) (*Config, error) {
	t.Helper()
	doc := "components: [{id: c, name: C}]\nprobes:\n  - name: p\n    component: c\n    kind: " + kind + "\n    " + kind + ": " + section + "\n"
	return Parse([]byte(doc), filepath.Join(dir, "probes.yaml"), []string{"crl", "ocsp"})
}

func TestOCSPDefaultsAndParsing(t *testing.T) {
	dir := t.TempDir()
	writeOCSPPKI(t, dir)
	cfg, err := parsePKI(t, dir, "ocsp", "{certificate: leaf.pem, issuer: issuer.pem}")
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Probes[0].OCSP
	if o.URL != "http://ocsp.example.com/" || o.Expect != "good" || !slices.Equal(o.Methods, []string{"post"}) || o.HashAlg != crypto.SHA1 ||
		o.MaxAge.D() != 4*24*time.Hour || o.MaxValidity.D() != 10*24*time.Hour || o.MaxLatency.D() != 10*time.Second || o.MaxBodyBytes != 1<<20 ||
		o.SerialNumber.Int64() != 0x1234 || o.IssuerCert == nil || o.ReasonCode != -1 {
		t.Fatalf("defaults: %+v", o)
	}
	cfg, err = parsePKI(t, dir, "ocsp", "{serial: '0x12:34', url: http://127.0.0.1/, issuer: issuer.pem, expect: revoked, reason: keyCompromise, methods: [GET, post], hash: sha256, max_age: 1d}")
	if err != nil {
		t.Fatal(err)
	}
	o = cfg.Probes[0].OCSP
	if o.SerialNumber.Int64() != 0x1234 || o.ReasonCode != 1 || !slices.Equal(o.Methods, []string{"get", "post"}) || o.HashAlg != crypto.SHA256 || o.MaxAge.D() != 24*time.Hour {
		t.Fatalf("parsed: %+v", o)
	}
}

func TestOCSPCRLInvalid(t *testing.T) {
	dir := t.TempDir()
	writeOCSPPKI(t, dir)
	cases := []struct {
		kind, section string
		want          []string // key: message, in line order
	}{
		{"ocsp", "{certificate: leaf.pem}", []string{"probes[0].ocsp.issuer: must name the issuing CA certificate file"}},
		{"ocsp", "{issuer: issuer.pem, url: http://x/}", []string{"probes[0].ocsp.certificate: give exactly one of certificate, serial or never_issued"}},
		{"ocsp", "{certificate: leaf.pem, serial: '12', issuer: issuer.pem}", []string{"probes[0].ocsp.certificate: give exactly one of certificate, serial or never_issued"}},
		{"ocsp", "{certificate: other.pem, issuer: issuer.pem}", []string{`probes[0].ocsp.certificate: other.pem was not issued by issuer.pem ("CN=issuer"): x509: ECDSA verification failure`}},
		{"ocsp", "{certificate: noaia.pem, issuer: issuer.pem}", []string{"probes[0].ocsp.url: not given and noaia.pem has no AIA OCSP URL"}},
		{"ocsp", "{serial: '12', issuer: issuer.pem}", []string{"probes[0].ocsp.url: must be given with serial or never_issued (there is no certificate to take the AIA URL from)"}},
		{"ocsp", "{serial: 'xyz', issuer: issuer.pem, url: http://x/}", []string{`probes[0].ocsp.serial: must be a positive hexadecimal serial number, got "xyz"`}},
		{"ocsp", "{certificate: leaf.pem, issuer: issuer.pem, url: 'ftp://x/'}", []string{`probes[0].ocsp.url: must be an absolute http(s) URL, got "ftp://x/"`}},
		{"ocsp", "{never_issued: true, issuer: issuer.pem, url: http://x/, expect: unknown}", []string{"probes[0].ocsp.expect: leave expect out with never_issued: a never-issued serial must simply not be good"}},
		{"ocsp", "{certificate: leaf.pem, issuer: issuer.pem, expect: valid}", []string{`probes[0].ocsp.expect: must be good, revoked or unknown, got "valid"`}},
		{"ocsp", "{certificate: leaf.pem, issuer: issuer.pem, reason: keyCompromise}", []string{"probes[0].ocsp.reason: only applies with expect: revoked"}},
		{"ocsp", "{certificate: leaf.pem, issuer: issuer.pem, expect: revoked, reason: compromised}", []string{`probes[0].ocsp.reason: unknown reason "compromised" (known: aACompromise, affiliationChanged, cACompromise, certificateHold, cessationOfOperation, keyCompromise, privilegeWithdrawn, removeFromCRL, superseded, unspecified)`}},
		{"ocsp", "{certificate: leaf.pem, issuer: issuer.pem, methods: [put, post, post]}", []string{`probes[0].ocsp.methods: methods[0] must be post or get, got "put"`, "probes[0].ocsp.methods: post given twice"}},
		{"ocsp", "{certificate: leaf.pem, issuer: issuer.pem, methods: []}", []string{"probes[0].ocsp.methods: must name post, get or both"}},
		{"ocsp", "{certificate: leaf.pem, issuer: issuer.pem, hash: md5}", []string{`probes[0].ocsp.hash: must be sha1 or sha256, got "md5"`}},
		{"ocsp", "{certificate: leaf.pem, issuer: issuer.pem, max_body_bytes: 0}", []string{"probes[0].ocsp.max_body_bytes: must be positive"}},
		{"ocsp", "{certificate: leaf.pem, issuer: issuer.pem, min_validity: 11d}", []string{"probes[0].ocsp.min_validity: 264h0m0s is over max_validity 240h0m0s"}},
		{"ocsp", "{certificate: leaf.pem, issuer: missing.pem}", []string{"probes[0].ocsp.issuer: cannot read certificate file missing.pem: no such file or directory"}},
		{"crl", "{issuer: issuer.pem}", []string{`probes[0].crl.url: must be an absolute http URL, got ""`}},
		{"crl", "{url: http://x/a.crl}", []string{"probes[0].crl.issuer: must name the CA certificate that signs the CRL"}},
		{"crl", "{url: http://x/a.crl, issuer: issuer.pem, kind: root}", []string{`probes[0].crl.kind: must be subscriber or ca, got "root"`}},
		{"crl", "{url: http://x/a.crl, issuer: issuer.pem, expected_idp: shard1}", []string{`probes[0].crl.expected_idp: must be an absolute URL, got "shard1"`}},
		{"crl", "{url: http://x/a.crl, issuer: issuer.pem, max_bytes: -1}", []string{"probes[0].crl.max_bytes: must be positive"}},
		{"crl", "{url: http://x/a.crl, issuer: issuer.pem, certificates: [leaf.pem, other.pem]}", []string{"probes[0].crl.certificates[1]: other.pem (CN=leaf) was not issued by issuer.pem: x509: ECDSA verification failure"}},
	}
	for _, tc := range cases {
		t.Run(tc.section, func(t *testing.T) {
			_, err := parsePKI(t, dir, tc.kind, tc.section)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want config errors", err)
			}
			var got []string
			for _, e := range errs {
				if e.Line != 6 {
					t.Errorf("%q at line %d, want 6 (the section's line)", e.Msg, e.Line)
				}
				got = append(got, e.Key+": "+e.Msg)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

func TestCRLDefaultsByKind(t *testing.T) {
	dir := t.TempDir()
	writeOCSPPKI(t, dir)
	for kind, want := range map[string][2]time.Duration{"subscriber": {7 * 24 * time.Hour, 10 * 24 * time.Hour}, "ca": {365 * 24 * time.Hour, 365 * 24 * time.Hour}} {
		cfg, err := parsePKI(t, dir, "crl", "{url: http://x/a.crl, issuer: issuer.pem, kind: "+kind+", certificates: [leaf.pem]}")
		if err != nil {
			t.Fatal(err)
		}
		c := cfg.Probes[0].CRL
		if c.MaxAge.D() != want[0] || c.MaxValidity.D() != want[1] || c.MaxBytes != 64<<20 || len(c.Known) != 1 || c.IssuerCert == nil {
			t.Errorf("%s: %+v", kind, c)
		}
	}
}

// TestREADMEDocumentsOCSPAndCRLKeys: every key of the ocsp and crl sections
// appears, with its full path, in the README's "PKI probes: ocsp and crl".
func TestREADMEDocumentsOCSPAndCRLKeys(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "\n## PKI probes: ocsp and crl\n")
	if start < 0 {
		t.Fatal(`README.md has no "## PKI probes: ocsp and crl" section`)
	}
	section := doc[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	for _, kind := range []struct {
		path string
		typ  reflect.Type
	}{{"probes[].ocsp", reflect.TypeOf(OCSPProbe{})}, {"probes[].crl", reflect.TypeOf(CRLProbe{})}} {
		for _, key := range configKeys(kind.typ, kind.path, map[reflect.Type]bool{}) {
			if !strings.Contains(section, "`"+key+"`") {
				t.Errorf("README.md's ocsp and crl section does not document `%s`", key)
			}
		}
	}
}
