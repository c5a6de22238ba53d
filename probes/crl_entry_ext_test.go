package probes_test

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
)

// TestCRLCriticalEntryExtensions: entry extensions marked critical parse
// (issue 12, fix 1). The CRL is signed with the key of an `openssl req`/`x509`
// CA and checked by `openssl crl -verify` before probed sees it: one entry
// carries certificateIssuer (critical, as RFC 5280 §5.3.3 requires) and a
// critical invalidityDate, another the non-critical invalidityDate that
// `openssl ca -crl_compromise` writes. Nothing may fail. A critical
// reasonCode in the same CRL then fails exactly crl_entry_extensions.
func TestCRLCriticalEntryExtensions(t *testing.T) {
	dp := &crlServer{}
	srv := httptest.NewServer(dp)
	t.Cleanup(srv.Close)
	crlURL := srv.URL + "/crl/issuer.crl"
	ca := newOpenSSLCA(t, freePort(t), crlURL)
	ca.issue("compromised", "leaf_ext", "")
	ca.run("ca", "-config", "ca.cnf", "-revoke", "compromised.pem", "-crl_compromise", "20261101000000Z")
	// openssl's own CRL: the entry has reasonCode keyCompromise and a
	// (non-critical) invalidityDate.
	opensslCRL := ca.gencrl()

	issuer := ca.cert("issuer.pem")
	keyPEM, err := os.ReadFile(ca.path("issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	certIssuer, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: issuer.RawSubject}})
	if err != nil {
		t.Fatal(err)
	}
	invalidity, err := asn1.MarshalWithParams(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "generalized")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	build := func(reasonCritical bool) []byte {
		t.Helper()
		entries := []x509.RevocationListEntry{
			{SerialNumber: big.NewInt(0x5001), RevocationTime: now.Add(-2 * time.Hour), ReasonCode: 1, ExtraExtensions: []pkix.Extension{
				{Id: asn1.ObjectIdentifier{2, 5, 29, 29}, Critical: true, Value: certIssuer},
				{Id: asn1.ObjectIdentifier{2, 5, 29, 24}, Critical: true, Value: invalidity},
			}},
			{SerialNumber: big.NewInt(0x5002), RevocationTime: now.Add(-time.Hour), ExtraExtensions: []pkix.Extension{
				{Id: asn1.ObjectIdentifier{2, 5, 29, 24}, Value: invalidity},
			}},
		}
		if reasonCritical {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(0x5003), RevocationTime: now.Add(-time.Hour), ReasonCode: 4})
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(0x2000), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(7 * 24 * time.Hour),
			RevokedCertificateEntries: entries,
		}, issuer, key.(crypto.Signer))
		if err != nil {
			t.Fatal(err)
		}
		if reasonCritical {
			// x509 writes reasonCode non-critical and refuses it in
			// ExtraExtensions: mark it critical and sign again.
			der = resignCRL(t, der, key.(crypto.Signer), func(tbs *tbsCertList) {
				for i, e := range tbs.RevokedCertificates {
					for j := range e.Extensions {
						if e.SerialNumber.Int64() == 0x5003 && e.Extensions[j].Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 21}) {
							tbs.RevokedCertificates[i].Extensions[j].Critical = true
						}
					}
				}
			})
		}
		// openssl, an independent parser, reads the CRL and its signature.
		if err := os.WriteFile(ca.path("built.der"), der, 0o644); err != nil {
			t.Fatal(err)
		}
		out := ca.run("crl", "-inform", "DER", "-in", "built.der", "-CAfile", "issuer.pem", "-noout", "-text")
		for _, want := range []string{"Certificate Issuer: critical", "Invalidity Date: critical"} {
			if !strings.Contains(out, want) {
				t.Fatalf("openssl crl -text lacks %q:\n%s", want, out)
			}
		}
		return der
	}

	// A fresh prober and state per CRL: each is judged on its own.
	run := func(der []byte) *probes.Report {
		dp.set(der)
		pr := buildProbe(t, ca.dir, "crl", "{url: "+crlURL+", issuer: issuer.pem}", probes.Env{Clock: clock.Real{}, State: &memState{}})
		return runProbe(t, pr, clock.Real{}, 10*time.Second)
	}

	r := run(opensslCRL)
	wantFailures(t, r, nil, []string{})

	r = run(build(false))
	wantFailures(t, r, nil, []string{})
	if c, _ := check(r, "crl_parse"); c.Message != "DER CRL with 2 entries" {
		t.Fatalf("crl_parse: %q", c.Message)
	}
	if c, _ := check(r, "crl_entry_extensions"); c.Message != "no critical reasonCode, no unknown critical entry extension" {
		t.Fatalf("crl_entry_extensions: %q", c.Message)
	}

	r = run(build(true))
	wantFailures(t, r, []string{"crl_entry_extensions"}, []string{})
	if c, _ := check(r, "crl_entry_extensions"); c.Message != "1 entries with a critical reasonCode, which must not be critical (RFC 5280 §5.3.1, BR §7.2.2): 0x5003" {
		t.Fatalf("crl_entry_extensions: %q", c.Message)
	}
}

// tbsCertList is pkix.TBSCertificateList with the issuer kept raw, so a
// re-encoded CRL keeps the issuer's string types byte for byte.
type tbsCertList struct {
	Version             int `asn1:"optional,default:0"`
	Signature           pkix.AlgorithmIdentifier
	Issuer              asn1.RawValue
	ThisUpdate          time.Time
	NextUpdate          time.Time                 `asn1:"optional"`
	RevokedCertificates []pkix.RevokedCertificate `asn1:"optional"`
	Extensions          []pkix.Extension          `asn1:"tag:0,optional,explicit"`
}

// resignCRL edits a CRL's TBS and signs it again (ECDSA with SHA-256).
func resignCRL(t *testing.T, der []byte, key crypto.Signer, edit func(*tbsCertList)) []byte {
	t.Helper()
	var cl struct {
		TBS       tbsCertList
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &cl); err != nil {
		t.Fatal(err)
	}
	tbs := cl.TBS
	edit(&tbs)
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(tbsDER)
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{asn1.RawValue{FullBytes: tbsDER}, cl.Algorithm, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
