package probes

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/probed/probed/internal/pkisim"
)

// TestParseCRLMatchesX509 compares the split parser with
// x509.ParseRevocationList on entries with UTCTime and GeneralizedTime
// dates, reasons and none, short and 20-byte serials.
func TestParseCRLMatchesX509(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, NotBefore: now, NotAfter: now.AddDate(30, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCRLSign | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	big20, _ := new(big.Int).SetString("7fffffffffffffffffffffffffffffffffffffff", 16)
	entries := []x509.RevocationListEntry{
		{SerialNumber: big.NewInt(1), RevocationTime: now.Add(-time.Hour), ReasonCode: 1},
		{SerialNumber: big.NewInt(0x80), RevocationTime: time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)},
		{SerialNumber: big20, RevocationTime: time.Date(2051, 2, 28, 1, 2, 3, 0, time.UTC), ReasonCode: 6},
		{SerialNumber: big.NewInt(0x1234), RevocationTime: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), ReasonCode: 4},
	}
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(7), ThisUpdate: now, NextUpdate: now.Add(time.Hour), RevokedCertificateEntries: entries}, ca, key)
	if err != nil {
		t.Fatal(err)
	}
	want, err := x509.ParseRevocationList(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseCRL(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("signature over the original TBS: %v", err)
	}
	if got.Number.Cmp(want.Number) != 0 || !got.ThisUpdate.Equal(want.ThisUpdate) || !got.NextUpdate.Equal(want.NextUpdate) || string(got.RawIssuer) != string(want.RawIssuer) {
		t.Fatalf("header differs: %+v", got.RevocationList)
	}
	if len(got.serials) != len(want.RevokedCertificateEntries) {
		t.Fatalf("%d entries, want %d", len(got.serials), len(want.RevokedCertificateEntries))
	}
	for i, w := range want.RevokedCertificateEntries {
		g := got.serials[i]
		if g.key != keyOf(w.SerialNumber) || g.revoked != w.RevocationTime.Unix() {
			t.Errorf("entry %d: %s at %d, want %s at %v", i, g.key, g.revoked, keyOf(w.SerialNumber), w.RevocationTime)
		}
	}
	if len(got.holds) != 1 || got.holds[0] != keyOf(big20) || len(got.unspecified) != 0 {
		t.Fatalf("holds %v unspecified %v", got.holds, got.unspecified)
	}
	// A flipped signature byte is caught by the check over the original TBS.
	bad := append([]byte(nil), crlDER...)
	bad[len(bad)-3] ^= 0xff
	if p, err := parseCRL(bad); err == nil && p.CheckSignatureFrom(ca) == nil {
		t.Fatal("corrupted signature verified")
	}
	// Garbage after the CRL is refused.
	if _, err := parseCRL(append(append([]byte(nil), crlDER...), 0)); err == nil {
		t.Fatal("trailing data accepted")
	}
}

// BenchmarkCRL10MBParse compares x509.ParseRevocationList with the split
// parser on a 10 MB, 210,000-entry CRL (signature checked in both):
//
//	go test -run '^$' -bench CRL10MBParse -benchtime 10x ./probes/
func BenchmarkCRL10MBParse(b *testing.B) {
	sim, err := pkisim.New(pkisim.Options{ExtraRevoked: 210_000})
	if err != nil {
		b.Fatal(err)
	}
	der, err := sim.CRL()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(der))/1e6, "crl-MB")
	b.Run("x509", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rl, err := x509.ParseRevocationList(der)
			if err != nil || rl.CheckSignatureFrom(sim.Issuer()) != nil || len(rl.RevokedCertificateEntries) != 210_001 {
				b.Fatal(err)
			}
		}
	})
	b.Run("probed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rl, err := parseCRL(der)
			if err != nil || rl.CheckSignatureFrom(sim.Issuer()) != nil || len(rl.serials) != 210_001 {
				b.Fatal(err)
			}
		}
	})
}
