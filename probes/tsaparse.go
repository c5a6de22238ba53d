package probes

import (
	"encoding/asn1"
	"fmt"
	"strconv"

	"github.com/digitorus/pkcs7"
)

// The TSA reply is read by hand in two steps, each the source of one check,
// so a non-granted status still yields its PKIStatusInfo (digitorus/timestamp
// turns every status but granted into a plain error) and each structural
// fault is named. FuzzTSAParseAgreesWithDigitorus proves both steps read
// what digitorus/timestamp reads; the README lists where they differ on
// purpose.

// tsaParseError is a reply that did not parse: the message and evidence of
// the failed check.
type tsaParseError struct {
	msg string
	ev  map[string]string
}

func (e *tsaParseError) Error() string { return e.msg }

// parseTSAResp reads the outer TimeStampResp (RFC 3161 §2.4.2); a failure
// is tsa_response_parse's.
func parseTSAResp(body []byte) (tsaResponseASN1, *tsaParseError) {
	var resp tsaResponseASN1
	rest, err := asn1.Unmarshal(body, &resp)
	switch {
	case err != nil:
		return resp, &tsaParseError{fmt.Sprintf("reply is not a DER TimeStampResp: %v (first bytes %s)", err, hexStart(body)), map[string]string{"error": err.Error(), "body_start": hexStart(body)}}
	case len(rest) > 0:
		return resp, &tsaParseError{fmt.Sprintf("%d bytes of trailing data after the TimeStampResp", len(rest)), map[string]string{"trailing_bytes": strconv.Itoa(len(rest))}}
	}
	return resp, nil
}

// parseTSAToken reads a timeStampToken: CMS SignedData with exactly one
// signer, an id-ct-TSTInfo content type and a version 1 TSTInfo (RFC 3161
// §2.4.2); a failure is tsa_token's. The signature is not checked here.
func parseTSAToken(token []byte) (*pkcs7.PKCS7, tstInfoASN1, *tsaParseError) {
	var info tstInfoASN1
	p7, err := parsePKCS7(token)
	if err != nil {
		return nil, info, &tsaParseError{fmt.Sprintf("timeStampToken is not CMS SignedData: %v", err), map[string]string{"error": err.Error()}}
	}
	if _, err := asn1.Unmarshal(p7.Content, &info); err != nil {
		return nil, info, &tsaParseError{fmt.Sprintf("token content is not a TSTInfo: %v", err), map[string]string{"error": err.Error()}}
	}
	var ctype asn1.ObjectIdentifier
	switch err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeContentType, &ctype); {
	case len(p7.Signers) != 1:
		return nil, info, &tsaParseError{fmt.Sprintf("token has %d signers, RFC 3161 §2.4.2 wants exactly one", len(p7.Signers)), map[string]string{"signers": strconv.Itoa(len(p7.Signers))}}
	case err != nil:
		return nil, info, &tsaParseError{"token's signer has no content-type signed attribute (RFC 5652 §5.3)", nil}
	case !ctype.Equal(oidTSTInfo):
		return nil, info, &tsaParseError{fmt.Sprintf("token's content type is %s, want id-ct-TSTInfo %s", ctype, oidTSTInfo), map[string]string{"content_type": ctype.String()}}
	case info.Version != 1:
		return nil, info, &tsaParseError{fmt.Sprintf("TSTInfo version %d, want 1", info.Version), map[string]string{"version": strconv.Itoa(info.Version)}}
	}
	return p7, info, nil
}

// parsePKCS7 is pkcs7.Parse, with a panic of its BER reader (an index out
// of range on some malformed lengths, found by
// FuzzTSAParseAgreesWithDigitorus) turned into an error: a hostile TSA's
// reply is the TSA's fault (tsa_token), not a crash of probed's.
func parsePKCS7(der []byte) (p7 *pkcs7.PKCS7, err error) {
	defer func() {
		if v := recover(); v != nil {
			p7, err = nil, fmt.Errorf("the CMS parser gave up on it (%v)", v)
		}
	}()
	return pkcs7.Parse(der)
}
