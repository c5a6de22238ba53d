package probes

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/digitorus/timestamp"

	"github.com/probed/probed/internal/vectors"
)

// Where probed's TSA reply parser and digitorus/timestamp read the same
// bytes differently on purpose (README, "Why parse by hand"):
const (
	// RFC 3161 §2.4.2: grantedWithMods carries a token; digitorus/timestamp
	// refuses every status but granted.
	tsaDiffGrantedWithMods = "grantedWithMods"
	// RFC 3161 §2.4.2 / RFC 5652 §5.3: exactly one signer, a content-type
	// signed attribute of id-ct-TSTInfo, TSTInfo version 1; probed refuses
	// the token (tsa_token) where digitorus/timestamp does not look.
	tsaDiffStricterToken = "token structure RFC 3161 forbids"
	// RFC 3161 §2.4.2 / RFC 5652 §5.4: the signature is the tsa_signature
	// check (digitorus/pkcs7 against the configured chain), not part of
	// parsing; digitorus/timestamp verifies it while parsing when the token
	// carries certificates.
	tsaDiffSignature = "signature not checked while parsing"
	// RFC 3161 §2.4.2: an empty or unknown-algorithm messageImprint parses;
	// tsa_message_imprint fails it against the request.
	tsaDiffImprint = "messageImprint checked against the request"
	// RFC 3161 §2.4.2: PKIStatus is 0 to 5; digitorus/timestamp refuses
	// only a status above 0 and reads a negative one as granted. probed
	// fails tsa_status on it.
	tsaDiffNegativeStatus = "negative PKIStatus"
)

// tsaFacts are the fields both parsers expose.
type tsaFacts struct {
	hash     string
	digest   []byte
	genTime  string
	accuracy string
	serial   string
	policy   string
	ordering bool
	nonce    string
	certs    int
}

func str(v fmt.Stringer) string {
	if reflect.ValueOf(v).IsNil() {
		return "<nil>"
	}
	return v.String()
}

// digitorusParse is timestamp.ParseResponse with the panic digitorus/pkcs7
// can raise on malformed BER taken as a refusal (probed's parsePKCS7 does
// the same).
func digitorusParse(body []byte) (ts *timestamp.Timestamp, err error) {
	defer func() {
		if v := recover(); v != nil {
			ts, err = nil, fmt.Errorf("panic: %v", v)
		}
	}()
	return timestamp.ParseResponse(body)
}

// compareTSA parses body with both and returns the disagreement, or the
// deliberate difference that explains why they differ.
func compareTSA(body []byte) (string, error) {
	theirs, theirErr := digitorusParse(body)
	resp, perr := parseTSAResp(body)
	if perr != nil {
		if theirErr == nil {
			return "", fmt.Errorf("probed refuses the TimeStampResp digitorus/timestamp parses: %v", perr)
		}
		return "", nil
	}
	st := resp.Status.Status
	if st != 0 && st != 1 || len(resp.Token.FullBytes) == 0 {
		if theirErr == nil && st < 0 {
			return tsaDiffNegativeStatus, nil
		}
		if theirErr == nil {
			return "", fmt.Errorf("probed reads status %d with a %d-byte token, digitorus/timestamp a granted token", st, len(resp.Token.FullBytes))
		}
		return "", nil
	}
	p7, info, terr := parseTSAToken(resp.Token.FullBytes)
	if terr != nil {
		stricter := strings.Contains(terr.msg, "signers, RFC 3161") || strings.Contains(terr.msg, "content-type signed attribute") ||
			strings.Contains(terr.msg, "content type is") || strings.Contains(terr.msg, "TSTInfo version")
		switch {
		case theirErr != nil:
			return "", nil
		case stricter:
			return tsaDiffStricterToken, nil
		}
		return "", fmt.Errorf("probed refuses the token digitorus/timestamp parses: %v", terr)
	}
	if theirErr != nil {
		switch msg := theirErr.Error(); {
		case st == 1:
			return tsaDiffGrantedWithMods, nil
		case len(p7.Certificates) > 0 && p7.Verify() != nil:
			return tsaDiffSignature, nil
		case strings.Contains(msg, "no hashed message") && len(info.MessageImprint.HashedMessage) == 0,
			strings.Contains(msg, "unknown hash function"):
			return tsaDiffImprint, nil
		}
		return "", fmt.Errorf("digitorus/timestamp refuses what probed parses: %v", theirErr)
	}
	if st != 0 {
		return "", fmt.Errorf("probed reads status %d, digitorus/timestamp granted", st)
	}
	h, _ := hashByOID(info.MessageImprint.HashAlgorithm.Algorithm)
	mine := tsaFacts{hash: h.String(), digest: info.MessageImprint.HashedMessage, genTime: info.GenTime.String(), accuracy: info.Accuracy.duration().String(),
		serial: str(info.SerialNumber), policy: info.Policy.String(), ordering: info.Ordering, nonce: str(info.Nonce), certs: len(p7.Certificates)}
	got := tsaFacts{hash: theirs.HashAlgorithm.String(), digest: theirs.HashedMessage, genTime: theirs.Time.String(), accuracy: theirs.Accuracy.String(),
		serial: str(theirs.SerialNumber), policy: theirs.Policy.String(), ordering: theirs.Ordering, nonce: str(theirs.Nonce), certs: len(theirs.Certificates)}
	if !reflect.DeepEqual(mine, got) || !bytes.Equal(resp.Token.FullBytes, theirs.RawToken) {
		return "", fmt.Errorf("fields differ:\nprobed             %+v\ndigitorus/timestamp %+v", mine, got)
	}
	return "", nil
}

// TestTSAParseAgreesWithDigitorusOnPublicReplies: the real replies in
// testdata read the same with both parsers.
func TestTSAParseAgreesWithDigitorusOnPublicReplies(t *testing.T) {
	for name, b := range vectors.Files(t, "tsa/*.tsr") {
		got, err := compareTSA(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if got != "" {
			t.Errorf("%s: deliberate difference %q, want none", name, got)
		}
	}
}

// FuzzTSAParseAgreesWithDigitorus is the differential target for the TSA
// reply parser.
func FuzzTSAParseAgreesWithDigitorus(f *testing.F) {
	for _, b := range vectors.Files(f, "tsa/*.tsr") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := compareTSA(body); err != nil {
			t.Fatal(err)
		}
	})
}
