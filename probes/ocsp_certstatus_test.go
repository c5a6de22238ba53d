package probes_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/ocspwire"
	"github.com/probed/probed/probes"
)

// TestOCSPCertStatusReadByClassAndTag: a CertStatus is good [0], revoked
// [1] or unknown [2] by its context-specific tag; a universal element with
// the same tag number (what the differential fuzz target found read as a
// status) and a revocationReason that does not parse fail ocsp_status and
// say what was there. Responses are signed by the issuer, served on
// loopback.
func TestOCSPCertStatusReadByClassAndTag(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Status CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour * 24 * 365),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "issuer.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	serial := big.NewInt(0x1234)
	id, err := ocspwire.NewCertID(crypto.SHA1, issuer, serial)
	if err != nil {
		t.Fatal(err)
	}
	revokedInfo := func(reason []byte) asn1.RawValue {
		when, _ := asn1.MarshalWithParams(now.Add(-time.Hour), "generalized")
		body := when
		if reason != nil {
			body = append(body, append([]byte{0xa0, byte(len(reason))}, reason...)...)
		}
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: ocspwire.StatusRevoked, IsCompound: true, Bytes: body}
	}
	var status asn1.RawValue
	respond := func() []byte {
		rid, _ := ocspwire.ResponderIDByKey(issuer)
		data := ocspwire.ResponseData{ResponderID: rid, ProducedAt: now.Add(-time.Minute),
			Responses: []ocspwire.SingleResponse{{CertID: id, CertStatus: status, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(24 * time.Hour)}}}
		tbs, err := asn1.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(tbs)
		sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
		if err != nil {
			t.Fatal(err)
		}
		basic, err := asn1.Marshal(ocspwire.BasicResponse{TBSResponseData: ocspwire.ResponseData{Raw: tbs}, SignatureAlgorithm: ocspwire.ECDSAWithSHA256, Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := asn1.Marshal(ocspwire.OCSPResponse{ResponseBytes: ocspwire.ResponseBytes{ResponseType: ocspwire.OIDBasicResponse, Response: basic}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(respond())
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name   string
		status asn1.RawValue
		expect string
		fail   string // ocsp_status's message, or "" when it passes
	}{
		{"good [0]", asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: ocspwire.StatusGood}, "good", ""},
		{"unknown [2]", asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: ocspwire.StatusUnknown}, "unknown", ""},
		{"revoked [1] keyCompromise", revokedInfo([]byte{0x0a, 0x01, 0x01}), "revoked", ""},
		{"universal INTEGER is not unknown [2]", asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagInteger, Bytes: []byte{0}}, "unknown", "CertStatus has universal tag 2, not good [0], revoked [1] or unknown [2]"},
		{"universal BOOLEAN is not revoked [1]", asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagBoolean, Bytes: []byte{0xff}}, "revoked", "CertStatus has universal tag 1"},
		{"revocationReason an INTEGER", revokedInfo([]byte{0x02, 0x01, 0x01}), "revoked", "revoked, but the revocationReason does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status = tc.status
			pr := buildProbe(t, dir, "ocsp", "{url: "+srv.URL+", issuer: issuer.pem, serial: '0x1234', expect: "+tc.expect+"}", probes.Env{})
			r := runProbe(t, pr, clock.NewFake(now), 5*time.Second)
			if tc.fail == "" {
				wantFailures(t, r, nil, nil)
				return
			}
			wantFailures(t, r, []string{"ocsp_status"}, nil)
			if c, _ := check(r, "ocsp_status"); !strings.Contains(c.Message, tc.fail) {
				t.Errorf("ocsp_status: %q, want %q", c.Message, tc.fail)
			}
		})
	}
}
