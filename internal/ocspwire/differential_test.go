package ocspwire

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/probed/probed/internal/vectors"
)

// Where ocspwire and x/crypto/ocsp read the same bytes differently on
// purpose. Each is a response x/crypto/ocsp refuses and ocspwire parses, so
// that the probe can fail a named check with its reason instead of
// "does not parse" (README, "Why parse OCSP by hand"):
const (
	// RFC 6960 §4.2.1: responses is a SEQUENCE OF SingleResponse; the
	// probe looks for the one echoing its CertID (ocsp_cert_id).
	diffResponseCount = "not exactly one SingleResponse"
	// RFC 6960 §4.2.2.3: the probe reads ResponderID itself and fails
	// ocsp_responder_id with what it found.
	diffResponderID = "ResponderID x/crypto/ocsp cannot read"
	// RFC 6960 §3.2 (2): the signature is the ocsp_signature check,
	// judged against the issuer and every certificate in the response.
	diffSignature = "signature not checked while parsing"
	// RFC 5280 §4.2 / RFC 6960 §4.4: an unknown critical extension is the
	// ocsp_extensions check.
	diffCriticalExtension = "critical single extension"
	// RFC 6960 §4.1.1: a CertID hashed with an algorithm the probe did not
	// ask for is an ocsp_cert_id mismatch.
	diffCertIDHash = "CertID hash algorithm unknown to x/crypto/ocsp"
	// RFC 6960 §4.2.1: a CertStatus that is none of good [0], revoked [1]
	// (with a readable RevokedInfo) or unknown [2] is kept raw, and the
	// ocsp_status check names what it found.
	diffCertStatus = "CertStatus x/crypto/ocsp cannot read"
	// RFC 6960 §4.2.1: certs is a SEQUENCE OF Certificate; ocspwire parses
	// all of them (any could be the signer), x/crypto/ocsp the first only.
	diffLaterCertificate = "a certificate after the first does not parse"
	// RFC 6960 §4.2.1: revocationReason is [0] EXPLICIT CRLReason. When
	// what [0] holds is no ENUMERATED, x/crypto/ocsp takes the optional
	// field as absent (unspecified, 0); ocspwire keeps it, and the
	// ocsp_status check fails naming it.
	diffUnreadableReason = "revocationReason x/crypto/ocsp reads as absent"
	// RFC 6960 §4.2.1: certStatus is not optional. x/crypto/ocsp reads a
	// SingleResponse without one as revoked (at the zero time); ocspwire
	// refuses to parse it, and the probe fails ocsp_parse.
	diffNoCertStatus = "SingleResponse without CertStatus"
)

// compareOCSP parses der with both and returns the disagreement, or the
// deliberate difference that explains why they differ ("" when they agree).
func compareOCSP(der []byte) (deliberate string, err error) {
	mine, mineErr := ParseResponse(der)
	theirs, theirErr := ocsp.ParseResponse(der, nil)
	switch {
	case mineErr != nil && theirErr != nil:
		return "", nil
	case mineErr != nil:
		if strings.HasPrefix(mineErr.Error(), "parse certificate ") && !strings.HasPrefix(mineErr.Error(), "parse certificate 0 ") {
			return diffLaterCertificate, nil
		}
		if noCertStatus(der, theirs) {
			return diffNoCertStatus, nil
		}
		return "", fmt.Errorf("ocspwire refuses what x/crypto/ocsp parses: %v", mineErr)
	case theirErr != nil:
		return explainRefusal(mine, theirErr)
	}
	return sameOCSP(mine, theirs)
}

// explainRefusal accepts x/crypto/ocsp's refusal of a response ocspwire
// parsed only when it is one of the deliberate differences and ocspwire's
// parse shows the same fault.
func explainRefusal(mine *Parsed, theirErr error) (string, error) {
	var re ocsp.ResponseError
	if errors.As(theirErr, &re) {
		if int(re.Status) != int(mine.Status) || mine.Status == Successful {
			return "", fmt.Errorf("response status: x/crypto/ocsp %d, ocspwire %d", re.Status, mine.Status)
		}
		return "", nil
	}
	if mine.Status != Successful {
		return "", fmt.Errorf("ocspwire reads status %v, x/crypto/ocsp fails with %v", mine.Status, theirErr)
	}
	data := mine.Basic.TBSResponseData
	msg := theirErr.Error()
	if len(data.Responses) == 1 && !readableCertStatus(data.Responses[0].CertStatus) {
		return diffCertStatus, nil
	}
	switch {
	case strings.Contains(msg, "bad number of responses"):
		if len(data.Responses) != 1 {
			return diffResponseCount, nil
		}
	case strings.Contains(msg, "invalid responder"):
		if !readableResponderID(data.ResponderID) {
			return diffResponderID, nil
		}
	case strings.Contains(msg, "bad signature on embedded certificate"):
		if len(mine.Certs) > 0 {
			return diffSignature, nil
		}
	case strings.Contains(msg, "unsupported critical extension"):
		for _, e := range data.Responses[0].Extensions {
			if e.Critical {
				return diffCriticalExtension, nil
			}
		}
	case strings.Contains(msg, "unsupported issuer hash algorithm"):
		if _, ok := HashFromOID(data.Responses[0].CertID.HashAlgorithm.Algorithm); !ok {
			return diffCertIDHash, nil
		}
	}
	return "", fmt.Errorf("x/crypto/ocsp refuses what ocspwire parses: %v", theirErr)
}

// noCertStatus says whether der's SingleResponse has no CertStatus (the
// shape read without it parses) and x/crypto/ocsp read it as revoked at
// the zero time, as it reads a missing status.
func noCertStatus(der []byte, theirs *ocsp.Response) bool {
	if theirs.Status != ocsp.Revoked || !theirs.RevokedAt.IsZero() {
		return false
	}
	var outer OCSPResponse
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		return false
	}
	var basic struct {
		TBSResponseData struct {
			Version     int `asn1:"explicit,tag:0,default:0,optional"`
			ResponderID asn1.RawValue
			ProducedAt  time.Time `asn1:"generalized"`
			Responses   []struct {
				CertID     CertID
				ThisUpdate time.Time        `asn1:"generalized"`
				NextUpdate time.Time        `asn1:"generalized,explicit,tag:0,optional"`
				Extensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
			}
		}
	}
	_, err := asn1.Unmarshal(outer.ResponseBytes.Response, &basic)
	return err == nil && len(basic.TBSResponseData.Responses) > 0 && basic.TBSResponseData.Responses[0].ThisUpdate.Equal(theirs.ThisUpdate)
}

// readableCertStatus says whether x/crypto/ocsp's reading of CertStatus
// accepts raw. Its fields are all optional and Go's asn1 allows extra bytes
// at a SEQUENCE's end, so CertStatus alone would read as "none of them":
// like x/crypto/ocsp, the thisUpdate that follows must be read next (a [1]
// that is not a RevokedInfo is skipped as no field, and thisUpdate then
// meets it).
func readableCertStatus(raw asn1.RawValue) bool {
	var st struct {
		Good    asn1.Flag `asn1:"tag:0,optional"`
		Revoked struct {
			RevocationTime time.Time       `asn1:"generalized"`
			Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"`
		} `asn1:"tag:1,optional"`
		Unknown    asn1.Flag `asn1:"tag:2,optional"`
		ThisUpdate time.Time `asn1:"generalized"`
	}
	if raw.Class != asn1.ClassContextSpecific || raw.Tag > StatusUnknown {
		return false
	}
	thisUpdate, err := asn1.MarshalWithParams(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "generalized")
	if err != nil {
		return false
	}
	seq, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: append(append([]byte{}, raw.FullBytes...), thisUpdate...)})
	if err != nil {
		return false
	}
	rest, err := asn1.Unmarshal(seq, &st)
	return err == nil && len(rest) == 0
}

// readableResponderID says whether x/crypto/ocsp would accept id.
func readableResponderID(id asn1.RawValue) bool {
	switch id.Tag {
	case ResponderByName:
		var rdn pkix.RDNSequence
		rest, err := asn1.Unmarshal(id.Bytes, &rdn)
		return err == nil && len(rest) == 0
	case ResponderByKey:
		var h []byte
		rest, err := asn1.Unmarshal(id.Bytes, &h)
		return err == nil && len(rest) == 0
	}
	return false
}

// sameOCSP compares every field x/crypto/ocsp exposes with ocspwire's, and
// names the deliberate difference when both parse but read one apart.
func sameOCSP(mine *Parsed, theirs *ocsp.Response) (deliberate string, err error) {
	if mine.Status != Successful {
		return "", fmt.Errorf("ocspwire reads status %v, x/crypto/ocsp a successful response", mine.Status)
	}
	data := mine.Basic.TBSResponseData
	s := data.Responses[0]
	var diffs []string
	diff := func(field string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			diffs = append(diffs, fmt.Sprintf("%s: ocspwire %v, x/crypto/ocsp %v", field, a, b))
		}
	}
	diff("tbsResponseData", []byte(data.Raw), theirs.TBSResponseData)
	diff("signature", mine.Basic.Signature.RightAlign(), theirs.Signature)
	diff("producedAt", data.ProducedAt, theirs.ProducedAt)
	diff("thisUpdate", s.ThisUpdate, theirs.ThisUpdate)
	diff("nextUpdate", s.NextUpdate, theirs.NextUpdate)
	if s.CertID.SerialNumber == nil || theirs.SerialNumber == nil || s.CertID.SerialNumber.Cmp(theirs.SerialNumber) != 0 {
		diffs = append(diffs, fmt.Sprintf("serial: ocspwire %v, x/crypto/ocsp %v", s.CertID.SerialNumber, theirs.SerialNumber))
	}
	h, _ := HashFromOID(s.CertID.HashAlgorithm.Algorithm)
	diff("CertID hash", h, theirs.IssuerHash)
	diff("single extensions", nilIfEmpty(s.Extensions), nilIfEmpty(theirs.Extensions))
	switch data.ResponderID.Tag {
	case ResponderByName:
		diff("responder name", data.ResponderID.Bytes, theirs.RawResponderName)
	case ResponderByKey:
		kh, err := ResponderKeyHash(data.ResponderID)
		if err != nil {
			diffs = append(diffs, "ocspwire cannot read the key hash x/crypto/ocsp read: "+err.Error())
		}
		diff("responder key hash", kh, theirs.ResponderKeyHash)
	default:
		diffs = append(diffs, fmt.Sprintf("ResponderID tag %d accepted by x/crypto/ocsp", data.ResponderID.Tag))
	}
	switch {
	case len(mine.Certs) == 0 && theirs.Certificate != nil, len(mine.Certs) > 0 && theirs.Certificate == nil:
		diffs = append(diffs, fmt.Sprintf("certificates: ocspwire %d, x/crypto/ocsp %v", len(mine.Certs), theirs.Certificate != nil))
	case len(mine.Certs) > 0 && !bytes.Equal(mine.Certs[0].Raw, theirs.Certificate.Raw):
		diffs = append(diffs, "first certificate differs")
	}
	if alg, err := SignatureAlgorithm(mine.Basic.SignatureAlgorithm); err == nil && theirs.SignatureAlgorithm != x509.UnknownSignatureAlgorithm {
		diff("signature algorithm", alg, theirs.SignatureAlgorithm)
	}
	switch s.CertStatus.Tag {
	case StatusGood:
		diff("status", ocsp.Good, theirs.Status)
	case StatusUnknown:
		diff("status", ocsp.Unknown, theirs.Status)
	case StatusRevoked:
		diff("status", ocsp.Revoked, theirs.Status)
		seq, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: s.CertStatus.Bytes})
		var info RevokedInfo
		if _, err := asn1.Unmarshal(seq, &info); err != nil {
			diffs = append(diffs, "ocspwire cannot read the RevokedInfo x/crypto/ocsp read: "+err.Error())
			break
		}
		diff("revocationTime", info.RevocationTime, theirs.RevokedAt)
		reason := 0 // x/crypto/ocsp reports an absent reason as unspecified (0)
		if len(info.Reason.Bytes) > 0 {
			var e asn1.Enumerated
			if _, err := asn1.Unmarshal(info.Reason.Bytes, &e); err != nil {
				if theirs.RevocationReason != ocsp.Unspecified {
					diffs = append(diffs, "ocspwire cannot read the reason x/crypto/ocsp read: "+err.Error())
				}
				deliberate = diffUnreadableReason
			} else {
				reason = int(e)
			}
		}
		diff("revocationReason", reason, theirs.RevocationReason)
	default:
		diffs = append(diffs, fmt.Sprintf("CertStatus tag %d accepted by x/crypto/ocsp as %d", s.CertStatus.Tag, theirs.Status))
	}
	if len(diffs) > 0 {
		return "", errors.New(strings.Join(diffs, "; "))
	}
	return deliberate, nil
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// TestParseAgreesWithXCryptoOnPublicResponses: every response in testdata
// reads the same with both parsers, or differs for the listed reason.
func TestParseAgreesWithXCryptoOnPublicResponses(t *testing.T) {
	want := map[string]string{
		"gts-ca-1c3-good-2021-11-07.der": "",
		"xcrypto-without-cert.der":       "",
		"xcrypto-extension.der":          "",
		"xcrypto-critical-extension.der": diffCriticalExtension,
		"xcrypto-malformed-request.der":  "",
	}
	for name, der := range vectors.Files(t, "ocsp/*.der") {
		got, err := compareOCSP(der)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: no expectation; add it to this test", name)
		}
		if got != w {
			t.Errorf("%s: deliberate difference %q, want %q", name, got, w)
		}
	}
}

// FuzzParseAgreesWithXCrypto is the differential target: on any bytes
// ocspwire and x/crypto/ocsp both refuse, both read the same fields, or
// differ for one of the reasons listed above (and in the README).
func FuzzParseAgreesWithXCrypto(f *testing.F) {
	for _, der := range vectors.Files(f, "ocsp/*.der") {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		if _, err := compareOCSP(der); err != nil {
			t.Fatal(err)
		}
	})
}
