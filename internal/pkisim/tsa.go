package pkisim

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
)

// TSA faults. Each breaks exactly one check of the tsa kind (named in the
// comment) and nothing else critical.
const (
	// TSARejection: status rejection with failInfo timeNotAvailable (tsa_status).
	TSARejection Fault = "tsa_rejection"
	// TSAWrongNonce: the token's nonce is the request's plus one (tsa_nonce).
	TSAWrongNonce Fault = "tsa_wrong_nonce"
	// TSAImprintMismatch: the token stamps another digest (tsa_message_imprint).
	TSAImprintMismatch Fault = "tsa_imprint_mismatch"
	// TSAClockSkew: genTime 30 s behind the sim's clock (tsa_gen_time).
	TSAClockSkew Fault = "tsa_clock_skew"
	// TSAWrongPolicy: the token carries OtherTSAPolicy, not the requested
	// TSAPolicy (tsa_policy).
	TSAWrongPolicy Fault = "tsa_wrong_policy"
	// TSANoCert: no signer certificate although the request set certReq
	// (tsa_cert_included; give the probe tsa.pem as intermediates so the
	// other checks still run).
	TSANoCert Fault = "tsa_no_cert"
	// TSASignerNoEKU: signed by a certificate without extendedKeyUsage (tsa_signer_eku).
	TSASignerNoEKU Fault = "tsa_signer_no_eku"
	// TSASignerEKUNotCritical: signed by a certificate whose id-kp-timeStamping
	// EKU is not critical (tsa_signer_eku).
	TSASignerEKUNotCritical Fault = "tsa_signer_eku_not_critical"
	// TSASignerExpired: signed by a certificate that expired 10 minutes ago (tsa_signer_validity).
	TSASignerExpired Fault = "tsa_signer_expired"
	// TSABadSignature: one byte of the CMS signature flipped (tsa_signature).
	TSABadSignature Fault = "tsa_bad_signature"
	// TSAUnrequestedCerts: certificates embedded although the request left
	// certReq false (tsa_cert_included).
	TSAUnrequestedCerts Fault = "tsa_unrequested_certs"
	// TSAWrongName: the TSTInfo tsa field names the unrelated CA's subject,
	// not the signer's (tsa_name).
	TSAWrongName Fault = "tsa_wrong_name"
	// TSASHA1: the token is signed over a SHA-1 digest (tsa_signature_algorithm).
	TSASHA1 Fault = "tsa_sha1"
	// TSASlow: no answer until the client gives up (tsa_connect).
	TSASlow Fault = "tsa_slow"
	// TSADown: the connection is closed without a response (tsa_connect).
	TSADown Fault = "tsa_down"
	// TSAGarbage: a 200 application/timestamp-reply whose body is an HTML
	// error page (tsa_response_parse).
	TSAGarbage Fault = "tsa_garbage"
)

// TSAFaults lists the TSA faults in the order a fault panel shows them.
func TSAFaults() []Fault {
	return []Fault{TSARejection, TSAWrongNonce, TSAImprintMismatch, TSAClockSkew, TSAWrongPolicy, TSANoCert,
		TSASignerNoEKU, TSASignerEKUNotCritical, TSASignerExpired, TSABadSignature,
		TSAUnrequestedCerts, TSAWrongName, TSASHA1, TSASlow, TSADown, TSAGarbage}
}

// TSAPath is where the sim's RFC 3161 TSA answers POSTs.
const TSAPath = "/tsa"

// TSA policy OIDs, on the private arc the sim uses for made-up OIDs.
var (
	// TSAPolicy is the policy the sim's TSA stamps under.
	TSAPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 3161, 1}
	// OtherTSAPolicy is what TSAWrongPolicy stamps under.
	OtherTSAPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 3161, 2}
)

// TSAURL is the sim's TSA endpoint.
func (s *Sim) TSAURL() string { return s.baseURL + TSAPath }

// TSAAccuracy is the accuracy the sim's tokens state.
const TSAAccuracy = 500 * time.Millisecond

// serveTSA answers RFC 3161 queries with tokens made by digitorus/timestamp
// (genTime from the sim's clock), bent by whichever TSA fault is on.
func (s *Sim) serveTSA(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.on(TSASlow):
		// net/http notices a client hanging up only once the body is read;
		// without this the handler (and httptest's Close) would wait forever.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
		<-r.Context().Done()
		return
	case s.on(TSADown):
		hijackClose(w)
		return
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST an application/timestamp-query", http.StatusMethodNotAllowed)
		return
	case s.on(TSAGarbage):
		w.Header().Set("Content-Type", "application/timestamp-reply")
		_, _ = io.WriteString(w, garbage)
		return
	}
	der, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	reply, err := s.tsaReply(der)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	_, _ = w.Write(reply)
}

// tsaReply answers one DER TimeStampReq.
func (s *Sim) tsaReply(der []byte) ([]byte, error) {
	req, err := timestamp.ParseRequest(der)
	switch {
	case err != nil:
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadDataFormat)
	case req.HashAlgorithm == crypto.SHA1:
		// SHA-1 imprints are refused, as CSBR §6.8 wants.
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadAlgorithm)
	case req.TSAPolicyOID != nil && !req.TSAPolicyOID.Equal(TSAPolicy):
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.UnacceptedPolicy)
	case s.on(TSARejection):
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.TimeNotAvailable)
	}
	ts := &timestamp.Timestamp{
		HashAlgorithm:     req.HashAlgorithm,
		HashedMessage:     req.HashedMessage,
		Time:              s.clock.Now().UTC(),
		Accuracy:          TSAAccuracy,
		Nonce:             req.Nonce,
		Policy:            TSAPolicy,
		AddTSACertificate: req.Certificates && !s.on(TSANoCert) || s.on(TSAUnrequestedCerts),
	}
	if s.on(TSAWrongNonce) && req.Nonce != nil {
		ts.Nonce = new(big.Int).Add(req.Nonce, big.NewInt(1))
	}
	if s.on(TSAImprintMismatch) {
		ts.HashedMessage = append([]byte{}, req.HashedMessage...)
		ts.HashedMessage[0] ^= 0xff
	}
	if s.on(TSAClockSkew) {
		ts.Time = ts.Time.Add(-30 * time.Second)
	}
	if s.on(TSAWrongPolicy) {
		ts.Policy = OtherTSAPolicy
	}
	signer, err := s.tsaSignerFor()
	if err != nil {
		return nil, err
	}
	hash := crypto.SHA256
	if s.on(TSASHA1) {
		hash = crypto.SHA1
	}
	var reply []byte
	if s.on(TSAWrongName) {
		reply, err = tokenNaming(ts, signer, s.otherCA.cert.RawSubject)
	} else {
		reply, err = ts.CreateResponseWithOpts(signer.cert, signer.key, hash)
	}
	if err != nil {
		return nil, fmt.Errorf("create timestamp response: %w", err)
	}
	if s.on(TSABadSignature) {
		// The SignerInfo's signature is the last field of the reply; for
		// ECDSA, flipping its last byte keeps the DER valid and the
		// signature wrong.
		reply[len(reply)-1] ^= 0x01
	}
	return reply, nil
}

// tsaSignerFor returns the TSA signer, or for the signer faults a variant
// issued by the TSA root on the spot (only tests and the demo's fault panel
// turn them on, so the key generation is not worth caching).
func (s *Sim) tsaSignerFor() (*issued, error) {
	var variant func(*x509.Certificate)
	switch {
	case s.on(TSASignerNoEKU):
		variant = func(c *x509.Certificate) {
			c.Subject.CommonName = "probed sim TSA without EKU"
			c.ExtraExtensions = nil
		}
	case s.on(TSASignerEKUNotCritical):
		variant = func(c *x509.Certificate) {
			c.Subject.CommonName = "probed sim TSA with non-critical EKU"
			c.ExtraExtensions[0].Critical = false
		}
	case s.on(TSASignerExpired):
		variant = func(c *x509.Certificate) {
			c.Subject.CommonName = "probed sim TSA, expired"
			now := s.now()
			// Inside the TSA root's validity (from an hour before New), so
			// only the signer's own validity is wrong.
			c.NotBefore, c.NotAfter = now.Add(-50*time.Minute), now.Add(-10*time.Minute)
		}
	default:
		return s.tsaSigner, nil
	}
	base := s.tsaSigner.cert
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Country: base.Subject.Country, Organization: base.Subject.Organization},
		NotBefore:             base.NotBefore,
		NotAfter:              base.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamp})
	if err != nil {
		return nil, fmt.Errorf("marshal EKU: %w", err)
	}
	tmpl.ExtraExtensions = []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}}
	variant(tmpl)
	it, err := issue(tmpl, s.tsaRoot)
	if err != nil {
		return nil, fmt.Errorf("issue TSA signer variant: %w", err)
	}
	return it, nil
}

// tokenNaming makes a granted reply whose TSTInfo tsa field is a
// directoryName of name (digitorus/timestamp always writes the signer's
// subject there), signed by signer with SHA-256 and a signingCertificateV2.
func tokenNaming(ts *timestamp.Timestamp, signer *issued, name []byte) ([]byte, error) {
	dir, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name})
	if err != nil {
		return nil, err
	}
	hashOID := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	info := struct {
		Version        int
		Policy         asn1.ObjectIdentifier
		MessageImprint struct {
			HashAlgorithm pkix.AlgorithmIdentifier
			HashedMessage []byte
		}
		SerialNumber *big.Int
		GenTime      time.Time `asn1:"generalized"`
		Accuracy     struct {
			Millis int `asn1:"tag:0,optional"`
		}
		Nonce *big.Int      `asn1:"optional"`
		TSA   asn1.RawValue `asn1:"tag:0,optional"`
	}{Version: 1, Policy: ts.Policy, SerialNumber: big.NewInt(time.Now().UnixNano()), GenTime: ts.Time.Truncate(time.Second), Nonce: ts.Nonce,
		TSA: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: dir}}
	info.MessageImprint.HashAlgorithm = pkix.AlgorithmIdentifier{Algorithm: hashOIDOf(ts.HashAlgorithm), Parameters: asn1.NullRawValue}
	info.MessageImprint.HashedMessage = ts.HashedMessage
	info.Accuracy.Millis = int(ts.Accuracy / time.Millisecond)
	tst, err := asn1.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("marshal TSTInfo: %w", err)
	}
	sd, err := pkcs7.NewSignedData(tst)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(hashOID)
	sd.SetContentType(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4})
	sd.GetSignedData().Version = 3
	certHash := sha256.Sum256(signer.cert.Raw)
	v2, err := asn1.Marshal(struct{ Certs []struct{ CertHash []byte } }{[]struct{ CertHash []byte }{{certHash[:]}}})
	if err != nil {
		return nil, err
	}
	if err := sd.AddSigner(signer.cert, signer.key, pkcs7.SignerInfoConfig{ExtraSignedAttributes: []pkcs7.Attribute{
		{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}, Value: asn1.RawValue{FullBytes: v2}},
	}}); err != nil {
		return nil, err
	}
	token, err := sd.Finish()
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		Status struct{ Status int }
		Token  asn1.RawValue
	}{Token: asn1.RawValue{FullBytes: token}})
}

// hashOIDOf is the imprint hash OID of h (SHA-256 family only: the sim
// refuses SHA-1 imprints).
func hashOIDOf(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA384:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	case crypto.SHA512:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	}
	return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
}
