package probes

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"testing"
)

// TestKeyProblem: BR §6.1.5 keys pass, everything else is named.
func TestKeyProblem(t *testing.T) {
	gen := func(c elliptic.Curve) any {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return &k.PublicKey
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		pub  any
		want string
	}{
		{"P-256", gen(elliptic.P256()), ""},
		{"P-384", gen(elliptic.P384()), ""},
		{"P-521", gen(elliptic.P521()), ""},
		{"P-224", gen(elliptic.P224()), "an ECDSA key on P-224; the BRs allow P-256, P-384 and P-521 (§6.1.5)"},
		{"RSA-2048", &rsa2048.PublicKey, ""},
		{"RSA-1024", &rsa1024.PublicKey, "an RSA key of 1024 bits, under the 2048 the BRs require (§6.1.5)"},
		{"Ed25519", edPub, "an Ed25519 key; the BRs allow RSA and ECDSA keys only (§6.1.5)"},
	} {
		if got := keyProblem(tc.pub); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestWeakSignatures: SHA-1, MD5 and MD2 by OID and by x509's enum; SHA-2 passes.
func TestWeakSignatures(t *testing.T) {
	for _, tc := range []struct {
		oid  asn1.ObjectIdentifier
		hash string
	}{
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}, "SHA-1"},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, "SHA-1"},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}, "MD5"},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, ""},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, ""},
	} {
		if got, _ := weakSignatureOID(tc.oid); got != tc.hash {
			t.Errorf("%s: %q, want %q", tc.oid, got, tc.hash)
		}
	}
	for alg, want := range map[x509.SignatureAlgorithm]string{x509.SHA1WithRSA: "SHA-1", x509.ECDSAWithSHA1: "SHA-1", x509.MD5WithRSA: "MD5", x509.SHA256WithRSA: "", x509.PureEd25519: ""} {
		if got := weakSignatureAlgorithm(alg); got != want {
			t.Errorf("%s: %q, want %q", alg, got, want)
		}
	}
}
