package probes

import (
	"crypto/dsa" //nolint:staticcheck // only to name a DSA key as not allowed
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
	"time"
)

// The algorithm policy: what the Baseline Requirements forbid for the
// signatures probed checks, and from when. A signed object is judged by its
// own date (an OCSP response's producedAt, a CRL's thisUpdate, a token's
// genTime, a certificate's notBefore), so a captured response judged at the
// moment it was served gets the verdict it deserved then.
var (
	// sha1OCSPSince: BR §7.1.3.2.1 (ballot SC53): no SHA-1 OCSP response
	// signatures with producedAt on or after 2022-06-01.
	sha1OCSPSince = time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC)
	// sha1CRLSince: BR §7.1.3.2.1 (ballot SC097, BR 2.2.5): SHA-1 CRL
	// signatures were allowed, for CAs still issuing SHA-1 certificates, until
	// 2026-09-15 ("Sunset all remaining use of SHA-1 in Certificates and
	// CRLs"); none with thisUpdate on or after that day.
	sha1CRLSince = time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC)
	// sha1CertSince: BR 1.x §7.1.3 (ballot 118): "CAs MAY continue to sign
	// certificates to verify OCSP responses using SHA1 until 1 January
	// 2017"; no SHA-1 signed responder certificate issued on or after then.
	sha1CertSince = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
	// sha1TokenSince: CSBR §7.1.3.2.1: SHA-1 only in tokens whose genTime is
	// not after 2022-04-30 ("CAs SHALL NOT support SHA-1 digest algorithm for
	// Timestamp tokens", §1.2.2).
	sha1TokenSince = time.Date(2022, 5, 1, 0, 0, 0, 0, time.UTC)
	// weakKeySince: BR §6.1.5: RSA keys of at least 2048 bits, ECDSA on
	// P-256, P-384 or P-521, for everything signed from 2014-01-01.
	weakKeySince = time.Date(2014, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Signature algorithm OIDs of the hashes the policy refuses.
var weakSigOIDs = []struct {
	oid  asn1.ObjectIdentifier
	hash string
	name string
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 2}, "MD2", "md2WithRSAEncryption"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}, "MD5", "md5WithRSAEncryption"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}, "SHA-1", "sha1WithRSAEncryption"},
	{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 29}, "SHA-1", "sha1WithRSA (OIW)"},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, "SHA-1", "ecdsa-with-SHA1"},
	{asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 3}, "SHA-1", "dsa-with-sha1"},
}

// weakSignatureOID names the weak hash of a signature algorithm OID ("" when
// the algorithm is not one the policy refuses).
func weakSignatureOID(oid asn1.ObjectIdentifier) (hash, name string) {
	for _, w := range weakSigOIDs {
		if oid.Equal(w.oid) {
			return w.hash, w.name
		}
	}
	return "", ""
}

// weakSignatureAlgorithm is weakSignatureOID for x509's enum.
func weakSignatureAlgorithm(alg x509.SignatureAlgorithm) string {
	switch alg {
	case x509.MD2WithRSA:
		return "MD2"
	case x509.MD5WithRSA:
		return "MD5"
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		return "SHA-1"
	}
	return ""
}

// keyProblem says what is wrong with a signing key under BR §6.1.5, or "".
func keyProblem(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		n := k.N.BitLen()
		switch {
		case n < 2048:
			return fmt.Sprintf("an RSA key of %d bits, under the 2048 the BRs require (§6.1.5)", n)
		case n%8 != 0:
			return fmt.Sprintf("an RSA key of %d bits, not a multiple of 8 (BR §6.1.5)", n)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return fmt.Sprintf("an ECDSA key on %s; the BRs allow P-256, P-384 and P-521 (§6.1.5)", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		return "an Ed25519 key; the BRs allow RSA and ECDSA keys only (§6.1.5)"
	case *dsa.PublicKey:
		return "a DSA key; the BRs allow RSA and ECDSA keys only (§6.1.5)"
	case nil:
		return ""
	default:
		return fmt.Sprintf("a %T key; the BRs allow RSA and ECDSA keys only (§6.1.5)", pub)
	}
	return ""
}

// algFinding is one breach of the algorithm policy.
type algFinding struct {
	what  string // "the response signature uses SHA-1 (ecdsa-with-SHA1)"
	rule  string // "BR §7.1.3.2.1: no SHA-1 OCSP signatures from 2022-06-01"
	since time.Time
	at    time.Time // the object's own date
}

func (f algFinding) String() string {
	return fmt.Sprintf("%s (%s; this one dates from %s)", f.what, f.rule, FormatTime(f.at))
}

// applies reports whether the rule was in force at the object's date.
func (f algFinding) applies() bool { return !f.at.Before(f.since) }

// reportAlgorithms records an algorithm-policy check: a failure listing
// every finding in force at its object's date, else a pass that also names
// the findings that predate their rule.
func reportAlgorithms(c *checker, name string, found []algFinding, ok string, ev map[string]string) {
	var fail, old []string
	for _, f := range found {
		if f.applies() {
			fail = append(fail, f.String())
		} else {
			old = append(old, f.what+" (allowed before "+f.since.Format("2006-01-02")+")")
		}
	}
	switch {
	case len(fail) > 0:
		c.fail(name, strings.Join(fail, "; "), ev)
	case len(old) > 0:
		c.pass(name, ok+"; "+strings.Join(old, "; "))
	default:
		c.pass(name, ok)
	}
}

// hashRule is the rule a weak hash breaks: SHA-1 from its date, MD5 and
// MD2 always.
func hashRule(hash, sha1Rule string, sha1Since time.Time) (string, time.Time) {
	if hash == "SHA-1" {
		return sha1Rule, sha1Since
	}
	return hash + " was never allowed (BR §7.1.3.2)", time.Time{}
}
