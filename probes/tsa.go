package probes

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"

	_ "crypto/sha1" // SHA-1 imprints for the refuse_sha1 check and ESSCertID v1
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// tsaProber is the tsa kind: an RFC 3161 timestamp authority asked for a
// token on every run, the token checked as RFC 3161/5816 and the Code
// Signing BR §6.8 demand.
type tsaProber struct {
	cfg *config.TSAProbe
	env Env
}

func newTSA(p *config.Probe, env Env) (Prober, error) {
	if p.TSA == nil {
		return nil, errors.New("missing tsa section")
	}
	if p.TSA.HashFunc == 0 || p.TSA.RootPool == nil {
		return nil, errors.New("tsa section not validated: load it with config.Load")
	}
	if env.Clock == nil {
		env.Clock = clock.Real{}
	}
	return &tsaProber{cfg: p.TSA, env: env}, nil
}

var _ Prober = (*tsaProber)(nil)

// OIDs of RFC 3161, RFC 5035 and RFC 5280 the checks compare against.
var (
	oidTSTInfo             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidSigningCertificate  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidSigningCertificate2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidExtKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidSHA1                = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA1:
		return oidSHA1
	case crypto.SHA256:
		return oidSHA256
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return nil
}

func hashByOID(oid asn1.ObjectIdentifier) (crypto.Hash, string) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if oid.Equal(hashOID(h)) {
			return h, strings.ToLower(strings.ReplaceAll(h.String(), "-", ""))
		}
	}
	return 0, oid.String()
}

// The RFC 3161 structures, parsed here rather than by digitorus/timestamp
// (see tsaparse.go).
type tsaImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

type tsaResponseASN1 struct {
	Status tsaStatusInfo
	Token  asn1.RawValue `asn1:"optional"`
}

type tsaStatusInfo struct {
	Status       int
	StatusString []string       `asn1:"optional,utf8"`
	FailInfo     asn1.BitString `asn1:"optional"`
}

type tstInfoASN1 struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint tsaImprint
	SerialNumber   *big.Int
	GenTime        time.Time        `asn1:"generalized"`
	Accuracy       tsaAccuracy      `asn1:"optional"`
	Ordering       bool             `asn1:"optional,default:false"`
	Nonce          *big.Int         `asn1:"optional"`
	TSA            asn1.RawValue    `asn1:"tag:0,optional"`
	Extensions     []pkix.Extension `asn1:"tag:1,optional"`
}

type tsaAccuracy struct {
	Seconds int64 `asn1:"optional"`
	Millis  int64 `asn1:"tag:0,optional"`
	Micros  int64 `asn1:"tag:1,optional"`
}

func (a tsaAccuracy) duration() time.Duration {
	return time.Duration(a.Seconds)*time.Second + time.Duration(a.Millis)*time.Millisecond + time.Duration(a.Micros)*time.Microsecond
}

// ESSCertID (RFC 2634) and ESSCertIDv2 (RFC 5035).
type essSigningCertificate struct {
	Certs []essCertID
}

type essCertID struct {
	CertHash     []byte
	IssuerSerial essIssuerSerial `asn1:"optional"`
}

type essSigningCertificateV2 struct {
	Certs []essCertIDv2
}

type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"` // absent: SHA-256
	CertHash      []byte
	IssuerSerial  essIssuerSerial `asn1:"optional"`
}

type essIssuerSerial struct {
	Issuer       []asn1.RawValue // GeneralNames
	SerialNumber *big.Int
}

// pkiStatusNames are RFC 3161 §2.4.2's PKIStatus values.
var pkiStatusNames = []string{"granted", "grantedWithMods", "rejection", "waiting", "revocationWarning", "revocationNotification"}

func pkiStatusName(s int) string {
	if s >= 0 && s < len(pkiStatusNames) {
		return pkiStatusNames[s]
	}
	return "unknown status " + strconv.Itoa(s)
}

// failInfoNames are RFC 3161 §2.4.2's PKIFailureInfo bits, each with what an
// operator should look at.
var failInfoNames = map[int][2]string{
	0:  {"badAlg", "the TSA does not accept the imprint's hash algorithm"},
	2:  {"badRequest", "the TSA refused the request as not permitted or not supported"},
	5:  {"badDataFormat", "the TSA could not parse the request"},
	14: {"timeNotAvailable", "the TSA's time source is not available"},
	15: {"unacceptedPolicy", "the TSA does not serve the requested policy"},
	16: {"unacceptedExtension", "the TSA does not support a requested extension"},
	17: {"addInfoNotAvailable", "the additional information requested is not available"},
	25: {"systemFailure", "the TSA reports an internal failure"},
}

func describeFailInfo(bs asn1.BitString) (names []string, advice []string) {
	for i := 0; i < bs.BitLength; i++ {
		if bs.At(i) == 0 {
			continue
		}
		if n, ok := failInfoNames[i]; ok {
			names = append(names, n[0])
			advice = append(advice, n[1])
		} else {
			names = append(names, "bit"+strconv.Itoa(i))
		}
	}
	return names, advice
}

// tsaRequest is one request as sent, kept to compare the reply against.
type tsaRequest struct {
	der     []byte
	hash    crypto.Hash
	digest  []byte
	nonce   *big.Int
	policy  asn1.ObjectIdentifier
	certReq bool
}

// newTSARequest builds a request over a fresh random message, with a 64-bit
// random nonce, encoded by digitorus/timestamp.
func newTSARequest(h crypto.Hash, policy asn1.ObjectIdentifier, certReq bool) (*tsaRequest, error) {
	msg := make([]byte, 32)
	if _, err := rand.Read(msg); err != nil {
		return nil, fmt.Errorf("read random message: %w", err)
	}
	hh := h.New()
	hh.Write(msg)
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("read random nonce: %w", err)
	}
	req := &tsaRequest{hash: h, digest: hh.Sum(nil), nonce: nonce, policy: policy, certReq: certReq}
	tr := timestamp.Request{HashAlgorithm: h, HashedMessage: req.digest, Certificates: certReq, TSAPolicyOID: policy, Nonce: nonce}
	req.der, err = tr.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal timestamp request: %w", err)
	}
	return req, nil
}

const (
	tsaQueryType = "application/timestamp-query"
	tsaReplyType = "application/timestamp-reply"
)

func (t *tsaProber) Probe(ctx context.Context, r *Report) {
	cfg := t.cfg
	req, err := newTSARequest(cfg.HashFunc, cfg.PolicyOID, cfg.CertReq)
	if err != nil {
		r.internalFailure(InternalRequest, fmt.Errorf("build the timestamp request: %w", err))
		return
	}
	client, closeConns := newRunClient(ctx, r, t.env, runTransportOpts{})
	defer closeConns()
	var ph Phases
	sent := t.env.Clock.Now()
	resp, body, err := t.post(httptrace.WithClientTrace(ctx, ph.Trace()), client, req.der, cfg.MaxBodyBytes)
	received := t.env.Clock.Now()
	ph.Record(r, time.Now())
	if resp == nil {
		r.Fail("tsa_connect", fmt.Sprintf("POST %s: %s", redactURL(cfg.URL), describeNetErr(ctx, err)), map[string]string{"url": redactURL(cfg.URL), "error": err.Error()})
		return
	}
	r.Pass("tsa_connect", "connected to "+resp.Request.URL.Host)
	gaugeHTTPStatus(r, resp.StatusCode)
	gaugeBodyBytes(r, len(body))
	if !checkTSATransport(ctx, r, resp, body, err, cfg.MaxBodyBytes) {
		return
	}
	// The SHA-1 check says something only about a TSA whose replies parse.
	if checkTSAResponse(r, cfg, req, body, sent, received) && cfg.RefuseSHA1 {
		t.checkSHA1Refused(ctx, r, client)
	}
}

// post sends one timestamp query. A nil response means no HTTP exchange
// happened; err then says why. A body cut at the limit returns errBodyTooLarge.
func (t *tsaProber) post(ctx context.Context, client *http.Client, der []byte, limit int64) (*http.Response, []byte, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.URL, bytes.NewReader(der))
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	for name, values := range t.cfg.RequestHeader {
		hreq.Header[name] = values
	}
	hreq.Header.Set("Content-Type", tsaQueryType)
	hreq.Header.Set("Accept", tsaReplyType)
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", "probed")
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, tooLarge, err := readBody(resp.Body, resp.ContentLength, limit)
	if err == nil && tooLarge {
		err = errBodyTooLarge
	}
	return resp, body, err
}

var errBodyTooLarge = errors.New("body larger than the limit")

// checkTSATransport records the HTTP-level checks and says whether the body
// is worth parsing.
func checkTSATransport(ctx context.Context, r *Report, resp *http.Response, body []byte, readErr error, limit int64) bool {
	if resp.StatusCode != http.StatusOK {
		r.Fail("tsa_http_status", fmt.Sprintf("HTTP %d from %s, want 200 (body starts %q)", resp.StatusCode, resp.Request.URL.Redacted(), snippet(body)), map[string]string{"status": strconv.Itoa(resp.StatusCode), "url": resp.Request.URL.Redacted()})
		return false
	}
	r.Pass("tsa_http_status", "HTTP 200")
	switch {
	case errors.Is(readErr, errBodyTooLarge):
		r.Fail("tsa_body_size", fmt.Sprintf("reply larger than max_body_bytes (%d bytes): not a timestamp reply, or raise the limit", limit), map[string]string{"limit": strconv.FormatInt(limit, 10)})
		return false
	case readErr != nil:
		r.Fail("tsa_body_size", fmt.Sprintf("reading the reply: %s", describeNetErr(ctx, readErr)), map[string]string{"error": readErr.Error()})
		return false
	}
	r.Pass("tsa_body_size", fmt.Sprintf("%d bytes", len(body)))
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == tsaReplyType {
		r.Pass("tsa_content_type", tsaReplyType)
	} else {
		r.Fail("tsa_content_type", fmt.Sprintf("Content-Type is %q, want %s (RFC 3161 §3.4)", ct, tsaReplyType), map[string]string{"content_type": ct})
	}
	return true
}

// checkTSAResponse parses a TimeStampResp and records every check on it.
// sent and received bracket the exchange on the probe's clock. It reports
// whether the body parsed as a TimeStampResp.
func checkTSAResponse(r *Report, cfg *config.TSAProbe, req *tsaRequest, body []byte, sent, received time.Time) bool {
	resp, err := parseTSAResp(body)
	if err != nil {
		r.Fail("tsa_response_parse", err.msg, err.ev)
		return false
	}
	r.Pass("tsa_response_parse", "TimeStampResp parsed")
	st := resp.Status
	r.Gauge("probe_tsa_status", "PKIStatus of the last timestamp reply (0 granted, 1 grantedWithMods, 2 rejection, ...).", float64(st.Status))
	if st.Status != 0 && st.Status != 1 {
		names, advice := describeFailInfo(st.FailInfo)
		msg := "TSA answered " + pkiStatusName(st.Status)
		ev := map[string]string{"status": pkiStatusName(st.Status)}
		if len(names) > 0 {
			msg += ", failInfo " + strings.Join(names, ",")
			ev["fail_info"] = strings.Join(names, ",")
		}
		if len(st.StatusString) > 0 {
			msg += fmt.Sprintf(" (%q)", strings.Join(st.StatusString, "; "))
			ev["status_string"] = strings.Join(st.StatusString, "; ")
		}
		if len(advice) > 0 {
			msg += ": " + strings.Join(advice, "; ")
		}
		r.Fail("tsa_status", msg, ev)
		return true
	}
	r.Pass("tsa_status", pkiStatusName(st.Status))
	if len(resp.Token.FullBytes) == 0 {
		r.Fail("tsa_token", "status "+pkiStatusName(st.Status)+" but no timeStampToken in the reply", map[string]string{"status": pkiStatusName(st.Status)})
		return true
	}
	p7, info, terr := parseTSAToken(resp.Token.FullBytes)
	if terr != nil {
		r.Fail("tsa_token", terr.msg, terr.ev)
		return true
	}
	r.Pass("tsa_token", fmt.Sprintf("TSTInfo serial %s, policy %s", info.SerialNumber, info.Policy))

	checkTSAImprint(r, req, info.MessageImprint)
	checkTSANonce(r, req, info.Nonce)
	checkTSAPolicy(r, cfg, info.Policy)
	checkTSATime(r, cfg, info, sent, received)
	checkTSASigner(r, cfg, req, p7, info, received)
	return true
}

func checkTSAImprint(r *Report, req *tsaRequest, got tsaImprint) {
	_, gotAlg := hashByOID(got.HashAlgorithm.Algorithm)
	_, wantAlg := hashByOID(hashOID(req.hash))
	switch {
	case !got.HashAlgorithm.Algorithm.Equal(hashOID(req.hash)):
		r.Fail("tsa_message_imprint", fmt.Sprintf("token imprint uses %s, the request %s: the TSA stamped something else", gotAlg, wantAlg), map[string]string{"want_alg": wantAlg, "got_alg": gotAlg})
	case !bytes.Equal(got.HashedMessage, req.digest):
		r.Fail("tsa_message_imprint", fmt.Sprintf("token imprint %s differs from the request's %s: the TSA stamped something else", hex.EncodeToString(got.HashedMessage), hex.EncodeToString(req.digest)), map[string]string{"want": hex.EncodeToString(req.digest), "got": hex.EncodeToString(got.HashedMessage)})
	default:
		r.Pass("tsa_message_imprint", wantAlg+" imprint echoed")
	}
}

func checkTSANonce(r *Report, req *tsaRequest, got *big.Int) {
	switch {
	case got == nil:
		r.Fail("tsa_nonce", fmt.Sprintf("token carries no nonce; the request sent %s (RFC 3161 §2.4.2: it must be echoed)", req.nonce), map[string]string{"want": req.nonce.String()})
	case got.Cmp(req.nonce) != 0:
		r.Fail("tsa_nonce", fmt.Sprintf("token nonce %s differs from the request's %s: a replayed or mixed-up reply", got, req.nonce), map[string]string{"want": req.nonce.String(), "got": got.String()})
	default:
		r.Pass("tsa_nonce", "nonce echoed")
	}
}

func checkTSAPolicy(r *Report, cfg *config.TSAProbe, got asn1.ObjectIdentifier) {
	allowed := slices.Clone(cfg.AllowedPolicyOIDs)
	if cfg.PolicyOID != nil {
		allowed = append(allowed, cfg.PolicyOID)
	}
	if len(allowed) == 0 {
		r.Pass("tsa_policy", "policy "+got.String()+" (no policy configured)")
		return
	}
	for _, oid := range allowed {
		if got.Equal(oid) {
			r.Pass("tsa_policy", "policy "+got.String())
			return
		}
	}
	want := make([]string, len(allowed))
	for i, oid := range allowed {
		want[i] = oid.String()
	}
	r.Fail("tsa_policy", fmt.Sprintf("token policy %s is not the requested or an allowed one (%s)", got, strings.Join(want, ", ")), map[string]string{"got": got.String(), "want": strings.Join(want, ",")})
}

// checkTSATime compares genTime with the window the exchange took, widened
// by the token's accuracy and max_skew. The exported skew is how far genTime
// lies outside [sent, received]: 0 inside, negative when the TSA is behind.
func checkTSATime(r *Report, cfg *config.TSAProbe, info tstInfoASN1, sent, received time.Time) {
	gen := info.GenTime
	acc := info.Accuracy.duration()
	r.Gauge("probe_tsa_gen_time_timestamp_seconds", "genTime of the last timestamp token.", float64(gen.UnixNano())/1e9)
	var skew time.Duration
	switch {
	case gen.Before(sent):
		skew = gen.Sub(sent)
	case gen.After(received):
		skew = gen.Sub(received)
	}
	r.Gauge("probe_tsa_clock_skew_seconds", "How far the last token's genTime lies outside the request's send/receive window (negative: TSA behind).", skew.Seconds())
	tol := acc + cfg.MaxSkew.D()
	ev := map[string]string{"gen_time": gen.UTC().Format(time.RFC3339Nano), "sent": sent.UTC().Format(time.RFC3339Nano), "received": received.UTC().Format(time.RFC3339Nano), "accuracy": acc.String(), "max_skew": cfg.MaxSkew.D().String()}
	switch {
	case skew < -tol:
		r.Fail("tsa_gen_time", fmt.Sprintf("TSA clock is %s behind: genTime %s is before the request was sent (%s), beyond accuracy %s + max_skew %s", fmtDur(-skew), fmtTime(gen), fmtTime(sent), acc, cfg.MaxSkew.D()), ev)
	case skew > tol:
		r.Fail("tsa_gen_time", fmt.Sprintf("TSA clock is %s ahead: genTime %s is after the reply arrived (%s), beyond accuracy %s + max_skew %s", fmtDur(skew), fmtTime(gen), fmtTime(received), acc, cfg.MaxSkew.D()), ev)
	default:
		r.Pass("tsa_gen_time", fmt.Sprintf("genTime %s within the exchange (skew %s)", fmtTime(gen), fmtDur(skew)))
	}
	if acc > 0 {
		r.Gauge("probe_tsa_accuracy_seconds", "Accuracy the last token states (absent when it states none).", acc.Seconds())
	}
	checkTSAAccuracy(r, cfg, acc)
}

// checkTSAAccuracy reports the accuracy the token states. RFC 3161 §2.4.2
// makes the field optional and bounds it nowhere, and the Code Signing BRs
// set no limit on it either (their §6.8 is about the TSA's clock
// synchronisation and audit), so by default this only informs; an operator
// who wants a bound sets max_accuracy.
func checkTSAAccuracy(r *Report, cfg *config.TSAProbe, acc time.Duration) {
	limit := cfg.MaxAccuracy.D()
	switch {
	case limit == 0 && acc == 0:
		r.Pass("tsa_accuracy", "token states no accuracy (optional, RFC 3161 §2.4.2)")
	case limit == 0:
		r.Pass("tsa_accuracy", "token states accuracy ±"+acc.String()+" (informational: no max_accuracy set)")
	case acc == 0:
		r.Warn("tsa_accuracy", fmt.Sprintf("token states no accuracy (optional, RFC 3161 §2.4.2), so max_accuracy %s cannot be confirmed", limit), map[string]string{"accuracy": "absent", "max_accuracy": limit.String()})
	case acc > limit:
		r.Fail("tsa_accuracy", fmt.Sprintf("token states accuracy ±%s, worse than the configured max_accuracy %s", acc, limit), map[string]string{"accuracy": acc.String(), "max_accuracy": limit.String()})
	default:
		r.Pass("tsa_accuracy", fmt.Sprintf("accuracy ±%s, within max_accuracy %s", acc, limit))
	}
}

// checkTSASigner finds the signer certificate and checks the CMS signature,
// ESSCertID, the signer's EKU, CA flag, chain and validity.
func checkTSASigner(r *Report, cfg *config.TSAProbe, req *tsaRequest, p7 *pkcs7.PKCS7, info tstInfoASN1, now time.Time) {
	genTime := info.GenTime
	embedded := p7.Certificates
	p7.Certificates = append(slices.Clone(embedded), cfg.IntermediateCerts...)
	signer := p7.GetOnlySigner()
	inResponse := signer != nil && slices.ContainsFunc(embedded, func(c *x509.Certificate) bool { return c.Equal(signer) })
	switch {
	case req.certReq && inResponse:
		r.Pass("tsa_cert_included", "signer certificate included as certReq asked")
	case req.certReq:
		r.Fail("tsa_cert_included", fmt.Sprintf("request set certReq but the token embeds no signer certificate (%d certificates embedded; RFC 3161 §2.4.1)", len(embedded)), map[string]string{"embedded": strconv.Itoa(len(embedded))})
	case len(embedded) > 0:
		r.Fail("tsa_cert_included", fmt.Sprintf("request left certReq false but the token embeds %d certificates: RFC 3161 §2.4.1 says the certificates field MUST NOT be present then", len(embedded)), map[string]string{"embedded": strconv.Itoa(len(embedded))})
	default:
		r.Pass("tsa_cert_included", "no certificates embedded, as certReq false asks (RFC 3161 §2.4.1)")
	}
	if signer == nil {
		if req.certReq && !inResponse {
			// Already reported by tsa_cert_included; add the certificate to
			// intermediates to check the rest anyway.
			return
		}
		r.Fail("tsa_signature", "cannot find the signer certificate: the token does not embed it and intermediates does not hold it", map[string]string{"embedded": strconv.Itoa(len(embedded)), "intermediates": strconv.Itoa(len(cfg.IntermediateCerts))})
		return
	}
	subject := signer.Subject.String()
	if err := verifyCMS(p7, signer); err != nil {
		r.Fail("tsa_signature", fmt.Sprintf("CMS signature by %q does not verify: %v", subject, err), map[string]string{"signer": subject, "error": err.Error()})
	} else {
		r.Pass("tsa_signature", "CMS signature valid, signed by "+subject)
	}
	checkESSCertID(r, p7, signer)
	checkTSAName(r, info.TSA, signer)
	checkTSAAlgorithms(r, p7, signer, genTime)
	checkSignerEKU(r, signer)
	if signer.IsCA {
		r.Fail("tsa_signer_not_ca", fmt.Sprintf("signer %q is a CA certificate: a TSA must sign with an end-entity certificate", subject), map[string]string{"signer": subject})
	} else {
		r.Pass("tsa_signer_not_ca", "signer is not a CA")
	}
	checkSignerChain(r, cfg, p7.Certificates, signer, genTime)
	r.Gauge("probe_tsa_signer_expiry_timestamp_seconds", "NotAfter of the certificate that signed the last timestamp token.", float64(signer.NotAfter.Unix()))
	ev := map[string]string{"signer": subject, "not_before": signer.NotBefore.UTC().Format(time.RFC3339), "not_after": signer.NotAfter.UTC().Format(time.RFC3339)}
	switch left := signer.NotAfter.Sub(now); {
	case now.Before(signer.NotBefore):
		r.Fail("tsa_signer_validity", fmt.Sprintf("signer %q is not valid until %s", subject, FormatTime(signer.NotBefore)), ev)
	case left <= 0:
		r.Fail("tsa_signer_validity", fmt.Sprintf("signer %q expired %s ago (%s): renew the TSA certificate", subject, Ago(-left), FormatTime(signer.NotAfter)), ev)
	case left < cfg.SignerExpiryWarning.D():
		r.Warn("tsa_signer_validity", fmt.Sprintf("signer %q expires in %s (%s): renew the TSA certificate", subject, Ago(left), FormatTime(signer.NotAfter)), ev)
	default:
		r.Pass("tsa_signer_validity", "signer valid until "+FormatTime(signer.NotAfter))
	}
}

// checkTSAName: the TSTInfo tsa field is optional, but when present it
// "MUST correspond to one of the subject names included in the certificate
// that is to be used to verify the token" (RFC 3161 §2.4.2): the subject
// (directoryName) or a subjectAltName of the signer.
func checkTSAName(r *Report, field asn1.RawValue, signer *x509.Certificate) {
	if len(field.FullBytes) == 0 {
		r.Pass("tsa_name", "TSTInfo names no TSA (optional)")
		return
	}
	subject := signer.Subject.String()
	var gn asn1.RawValue
	if rest, err := asn1.Unmarshal(field.Bytes, &gn); err != nil || len(rest) > 0 || gn.Class != asn1.ClassContextSpecific {
		r.Fail("tsa_name", fmt.Sprintf("TSTInfo tsa is not a GeneralName (RFC 3161 §2.4.2): %x", field.Bytes), map[string]string{"tsa_hex": hex.EncodeToString(field.Bytes)})
		return
	}
	ev := map[string]string{"signer": subject}
	var named string
	ok := false
	switch gn.Tag {
	case 4: // directoryName, an explicit Name
		var name pkix.RDNSequence
		if _, err := asn1.Unmarshal(gn.Bytes, &name); err != nil {
			r.Fail("tsa_name", fmt.Sprintf("TSTInfo tsa directoryName does not parse: %v", err), ev)
			return
		}
		named = name.String()
		var signerName pkix.RDNSequence
		_, _ = asn1.Unmarshal(signer.RawSubject, &signerName)
		ok = bytes.Equal(gn.Bytes, signer.RawSubject) || named == signerName.String()
	case 1, 2, 6: // rfc822Name, dNSName, uniformResourceIdentifier
		named = string(gn.Bytes)
		for _, n := range signer.EmailAddresses {
			ok = ok || gn.Tag == 1 && strings.EqualFold(n, named)
		}
		for _, n := range signer.DNSNames {
			ok = ok || gn.Tag == 2 && strings.EqualFold(n, named)
		}
		for _, u := range signer.URIs {
			ok = ok || gn.Tag == 6 && u.String() == named
		}
	default:
		named = fmt.Sprintf("a GeneralName of tag [%d]", gn.Tag)
	}
	ev["tsa_name"] = named
	if ok {
		r.Pass("tsa_name", fmt.Sprintf("TSTInfo tsa %q is the signer's", named))
		return
	}
	r.Fail("tsa_name", fmt.Sprintf("TSTInfo tsa names %q, which is not a name of the signer %q (RFC 3161 §2.4.2: it must correspond to a subject name of the certificate that verifies the token)", named, subject), ev)
}

// checkTSAAlgorithms is the algorithm policy for tokens: the CMS digest is
// not SHA-1 or weaker for tokens with genTime after 2022-04-30 (CSBR
// §7.1.3.2.1), and the signer's key meets BR §6.1.5.
func checkTSAAlgorithms(r *Report, p7 *pkcs7.PKCS7, signer *x509.Certificate, genTime time.Time) {
	c := &checker{r: r}
	var found []algFinding
	digest := p7.Signers[0].DigestAlgorithm.Algorithm
	sigAlg := p7.Signers[0].DigestEncryptionAlgorithm.Algorithm
	ev := map[string]string{"digest_algorithm": digest.String(), "signature_algorithm": sigAlg.String(), "gen_time": rfc3339(genTime)}
	weak := ""
	switch {
	case digest.Equal(oidSHA1):
		weak = "SHA-1"
	case digest.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}):
		weak = "MD5"
	}
	sigName := sigAlg.String()
	if h, name := weakSignatureOID(sigAlg); h != "" {
		sigName = name
		if weak == "" {
			weak = h
		}
	}
	_, digestName := hashByOID(digest)
	if weak != "" {
		rule, since := hashRule(weak, "CSBR §7.1.3.2.1: no SHA-1 in timestamp tokens with genTime after 2022-04-30", sha1TokenSince)
		found = append(found, algFinding{what: fmt.Sprintf("the token is signed over a %s digest (digest %s, signature %s)", weak, digestName, sigName), rule: rule, since: since, at: genTime})
	}
	if p := keyProblem(signer.PublicKey); p != "" {
		found = append(found, algFinding{what: fmt.Sprintf("the token is signed by %q with %s", signer.Subject.String(), p), rule: "BR §6.1.5, from 2014-01-01", since: weakKeySince, at: genTime})
	}
	reportAlgorithms(c, "tsa_signature_algorithm", found, fmt.Sprintf("%s digest, %s key", digestName, signer.PublicKeyAlgorithm), ev)
}

// verifyCMS checks the token's signature with digitorus/pkcs7. pkcs7 also
// rejects a signingTime attribute outside the signer's validity; that finding
// belongs to tsa_signer_validity, so the signature is checked against a copy
// of the signer whose validity is opened up: this check judges the math only.
// A panic inside pkcs7 (its readers trust lengths a hostile TSA sets, as
// parsePKCS7 found) is an error of the token, not a crash of the prober.
func verifyCMS(p7 *pkcs7.PKCS7, signer *x509.Certificate) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("verify token signature: malformed token (pkcs7: %v)", v)
		}
	}()
	open := *signer
	open.NotBefore = time.Time{}
	open.NotAfter = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	cp := *p7
	cp.Certificates = []*x509.Certificate{&open}
	return cp.VerifyWithOpts(x509.VerifyOptions{})
}

func checkESSCertID(r *Report, p7 *pkcs7.PKCS7, signer *x509.Certificate) {
	var (
		v1   essSigningCertificate
		v2   essSigningCertificateV2
		hash crypto.Hash
		want []byte
		is   essIssuerSerial
		kind string
	)
	if err := p7.UnmarshalSignedAttribute(oidSigningCertificate2, &v2); err == nil && len(v2.Certs) > 0 {
		kind = "ESSCertIDv2"
		hash = crypto.SHA256
		if len(v2.Certs[0].HashAlgorithm.Algorithm) > 0 {
			hash, _ = hashByOID(v2.Certs[0].HashAlgorithm.Algorithm)
		}
		want, is = v2.Certs[0].CertHash, v2.Certs[0].IssuerSerial
	} else if err := p7.UnmarshalSignedAttribute(oidSigningCertificate, &v1); err == nil && len(v1.Certs) > 0 {
		kind, hash = "ESSCertID", crypto.SHA1
		want, is = v1.Certs[0].CertHash, v1.Certs[0].IssuerSerial
	} else {
		r.Fail("tsa_ess_cert_id", "token has no signingCertificate (ESSCertID) or signingCertificateV2 (ESSCertIDv2) signed attribute (RFC 3161 §2.4.1, RFC 5816)", nil)
		return
	}
	if hash == 0 || !hash.Available() {
		r.Fail("tsa_ess_cert_id", kind+" uses an unknown hash algorithm", nil)
		return
	}
	h := hash.New()
	h.Write(signer.Raw)
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		r.Fail("tsa_ess_cert_id", fmt.Sprintf("%s hash %s does not match the signer certificate %q (%s): the token names another certificate", kind, hex.EncodeToString(want), signer.Subject, hex.EncodeToString(got)), map[string]string{"ess_hash": hex.EncodeToString(want), "signer_hash": hex.EncodeToString(got)})
		return
	}
	if is.SerialNumber != nil {
		if is.SerialNumber.Cmp(signer.SerialNumber) != 0 {
			r.Fail("tsa_ess_cert_id", fmt.Sprintf("%s issuerSerial names serial %x, the signer's is %x", kind, is.SerialNumber, signer.SerialNumber), map[string]string{"ess_serial": is.SerialNumber.Text(16), "signer_serial": signer.SerialNumber.Text(16)})
			return
		}
		if !issuerNamed(is.Issuer, signer.RawIssuer) {
			r.Fail("tsa_ess_cert_id", fmt.Sprintf("%s issuerSerial does not name the signer's issuer %q", kind, signer.Issuer), map[string]string{"signer_issuer": signer.Issuer.String()})
			return
		}
	}
	r.Pass("tsa_ess_cert_id", kind+" matches the signer")
}

// issuerNamed reports whether GeneralNames hold a directoryName equal to issuer.
func issuerNamed(names []asn1.RawValue, issuer []byte) bool {
	for _, n := range names {
		if n.Class == asn1.ClassContextSpecific && n.Tag == 4 && bytes.Equal(n.Bytes, issuer) {
			return true
		}
	}
	return false
}

func checkSignerEKU(r *Report, signer *x509.Certificate) {
	subject := signer.Subject.String()
	var ext *pkix.Extension
	for i := range signer.Extensions {
		if signer.Extensions[i].Id.Equal(oidExtKeyUsage) {
			ext = &signer.Extensions[i]
		}
	}
	onlyTS := len(signer.ExtKeyUsage) == 1 && signer.ExtKeyUsage[0] == x509.ExtKeyUsageTimeStamping && len(signer.UnknownExtKeyUsage) == 0
	switch {
	case ext == nil:
		r.Fail("tsa_signer_eku", fmt.Sprintf("signer %q has no extendedKeyUsage: RFC 3161 §2.3 requires exactly id-kp-timeStamping, critical", subject), map[string]string{"signer": subject})
	case !onlyTS:
		r.Fail("tsa_signer_eku", fmt.Sprintf("signer %q extendedKeyUsage is %s: RFC 3161 §2.3 requires exactly id-kp-timeStamping", subject, ekuNames(signer)), map[string]string{"signer": subject, "eku": ekuNames(signer)})
	case !ext.Critical:
		r.Fail("tsa_signer_eku", fmt.Sprintf("signer %q extendedKeyUsage is not critical: RFC 3161 §2.3 requires it critical", subject), map[string]string{"signer": subject})
	default:
		r.Pass("tsa_signer_eku", "EKU exactly id-kp-timeStamping, critical")
	}
}

func ekuNames(c *x509.Certificate) string {
	names := map[x509.ExtKeyUsage]string{x509.ExtKeyUsageAny: "any", x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth", x509.ExtKeyUsageCodeSigning: "codeSigning", x509.ExtKeyUsageEmailProtection: "emailProtection", x509.ExtKeyUsageTimeStamping: "timeStamping", x509.ExtKeyUsageOCSPSigning: "OCSPSigning"}
	var out []string
	for _, u := range c.ExtKeyUsage {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, "eku"+strconv.Itoa(int(u)))
		}
	}
	for _, oid := range c.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	if len(out) == 0 {
		return "empty"
	}
	return strings.Join(out, ",")
}

// checkSignerChain verifies the signer chains to the configured roots at a
// moment inside the signer's own validity (genTime, clamped), so an expired
// signer is tsa_signer_validity's finding and not this one's.
func checkSignerChain(r *Report, cfg *config.TSAProbe, pool []*x509.Certificate, signer *x509.Certificate, genTime time.Time) {
	inter := x509.NewCertPool()
	for _, c := range pool {
		if !c.Equal(signer) {
			inter.AddCert(c)
		}
	}
	at := genTime
	if at.Before(signer.NotBefore) {
		at = signer.NotBefore
	}
	if at.After(signer.NotAfter) {
		at = signer.NotAfter
	}
	chains, err := signer.Verify(x509.VerifyOptions{Roots: cfg.RootPool, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		r.Fail("tsa_signer_chain", fmt.Sprintf("signer %q does not chain to the configured roots (%s): %v", signer.Subject, cfg.Roots, err), map[string]string{"signer": signer.Subject.String(), "issuer": signer.Issuer.String(), "error": err.Error()})
		return
	}
	chain := chains[0]
	r.Pass("tsa_signer_chain", fmt.Sprintf("chains to %q", chain[len(chain)-1].Subject))
}

// checkSHA1Refused sends a SHA-1 imprint that the TSA must refuse.
func (t *tsaProber) checkSHA1Refused(ctx context.Context, r *Report, client *http.Client) {
	req, err := newTSARequest(crypto.SHA1, t.cfg.PolicyOID, false)
	if err != nil {
		r.Fail("tsa_sha1_refused", fmt.Sprintf("cannot build the SHA-1 request: %v", err), nil)
		return
	}
	resp, body, err := t.post(ctx, client, req.der, t.cfg.MaxBodyBytes)
	switch {
	case resp == nil:
		r.Fail("tsa_sha1_refused", fmt.Sprintf("SHA-1 request: POST %s: %s", redactURL(t.cfg.URL), describeNetErr(ctx, err)), map[string]string{"error": err.Error()})
		return
	case resp.StatusCode != http.StatusOK:
		r.Pass("tsa_sha1_refused", fmt.Sprintf("SHA-1 imprint refused with HTTP %d", resp.StatusCode))
		return
	case err != nil:
		r.Fail("tsa_sha1_refused", fmt.Sprintf("SHA-1 request: reading the reply: %v", err), map[string]string{"error": err.Error()})
		return
	}
	var tr tsaResponseASN1
	if _, err := asn1.Unmarshal(body, &tr); err != nil {
		r.Fail("tsa_sha1_refused", fmt.Sprintf("SHA-1 request: reply is not a TimeStampResp: %v", err), map[string]string{"error": err.Error(), "body_start": hexStart(body)})
		return
	}
	if tr.Status.Status == 0 || tr.Status.Status == 1 {
		r.Fail("tsa_sha1_refused", "TSA granted a token over a SHA-1 imprint: SHA-1 must be refused (CSBR §6.8)", map[string]string{"status": pkiStatusName(tr.Status.Status)})
		return
	}
	names, _ := describeFailInfo(tr.Status.FailInfo)
	r.Pass("tsa_sha1_refused", fmt.Sprintf("SHA-1 imprint refused: %s %s", pkiStatusName(tr.Status.Status), strings.Join(names, ",")))
}

func hexStart(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return hex.EncodeToString(b)
}

// fmtTime prints a time to the millisecond, which clock checks need.
func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") }

// fmtDur prints a signed duration to the millisecond.
func fmtDur(d time.Duration) string { return d.Round(time.Millisecond).String() }
