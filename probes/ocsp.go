package probes

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/ocspwire"
)

// ocspProber is the ocsp kind: one certificate's status asked of one
// responder, the answer checked field by field (RFC 6960, RFC 5019, RFC 9654,
// BR §4.9.9–4.9.10, §4.10.2).
type ocspProber struct {
	name string
	cfg  *config.OCSPProbe
	env  Env
}

var _ Prober = (*ocspProber)(nil)

func newOCSP(p *config.Probe, env Env) (Prober, error) {
	c := p.OCSP
	switch {
	case c == nil:
		return nil, errors.New("missing ocsp section")
	case c.IssuerCert == nil:
		return nil, errors.New("ocsp: issuer certificate not loaded")
	case c.SerialNumber == nil && !c.NeverIssued:
		return nil, errors.New("ocsp: no certificate, serial or never_issued")
	case c.URL == "":
		return nil, errors.New("ocsp: no responder URL")
	}
	if _, _, err := newOCSPRequest(c.HashAlg, c.IssuerCert, big.NewInt(1)); err != nil {
		return nil, fmt.Errorf("ocsp: %w", err)
	}
	return &ocspProber{name: p.Name, cfg: c, env: env}, nil
}

// Probe asks once per configured method; each exchange is checked in full.
func (o *ocspProber) Probe(ctx context.Context, r *Report) {
	serial := o.cfg.SerialNumber
	if o.cfg.NeverIssued {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			r.internalFailure(InternalRequest, fmt.Errorf("draw a random serial: %w", err))
			return
		}
		b[0] = b[0]&0x7f | 0x01
		serial = new(big.Int).SetBytes(b)
	}
	plain, id, err := newOCSPRequest(o.cfg.HashAlg, o.cfg.IssuerCert, serial)
	if err != nil {
		r.internalFailure(InternalRequest, fmt.Errorf("build the OCSP request: %w", err))
		return
	}
	for _, m := range o.cfg.Methods {
		c := &checker{r: r, base: map[string]string{"url": o.cfg.URL, "method": strings.ToUpper(m), "serial": serialHex(serial)}}
		if len(o.cfg.Methods) > 1 {
			c.prefix = strings.ToUpper(m) + ": "
		}
		if ctx.Err() != nil {
			c.fail("ocsp_transport", "no time left for this request: "+ctx.Err().Error(), nil)
			continue
		}
		o.exchange(ctx, c, m, id, plain)
	}
}

// newOCSPRequest builds a request for serial under issuer with x/crypto/ocsp
// and returns it with the CertID it carries, read back with ocspwire (what
// the response must echo).
func newOCSPRequest(h crypto.Hash, issuer *x509.Certificate, serial *big.Int) ([]byte, ocspwire.CertID, error) {
	der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: serial}, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		return nil, ocspwire.CertID{}, fmt.Errorf("build the request with hash %v: %w", h, err)
	}
	req, err := ocspwire.ParseRequest(der)
	if err != nil {
		return nil, ocspwire.CertID{}, fmt.Errorf("read back the request: %w", err)
	}
	return der, req.TBSRequest.RequestList[0].CertID, nil
}

// exchange sends one request and checks the answer. plain is the request
// without a nonce; with one, ocspwire encodes the same CertID with the RFC
// 9654 extension (x/crypto/ocsp cannot add extensions).
func (o *ocspProber) exchange(ctx context.Context, c *checker, method string, id ocspwire.CertID, plain []byte) {
	cfg := o.cfg
	var nonce []byte
	if cfg.Nonce {
		nonce = make([]byte, 32)
		if _, err := rand.Read(nonce); err != nil {
			c.r.internalFailure(InternalRequest, fmt.Errorf("draw a nonce: %w", err))
			return
		}
	}
	der := plain
	var err error
	if nonce != nil {
		if der, err = ocspwire.MarshalRequest([]ocspwire.CertID{id}, nonce); err != nil {
			c.r.internalFailure(InternalRequest, fmt.Errorf("encode the OCSP request: %w", err))
			return
		}
	}
	var ph Phases
	tctx := httptrace.WithClientTrace(ctx, ph.Trace())
	var req *http.Request
	if method == "get" {
		req, err = http.NewRequestWithContext(tctx, http.MethodGet, getURL(cfg.URL, der), nil)
	} else {
		req, err = http.NewRequestWithContext(tctx, http.MethodPost, cfg.URL, bytes.NewReader(der))
		if req != nil {
			req.Header.Set("Content-Type", "application/ocsp-request")
		}
	}
	if err != nil {
		c.r.internalFailure(InternalRequest, fmt.Errorf("build the HTTP request: %w", err))
		return
	}
	req.Header.Set("User-Agent", "probed")
	req.Header.Set("Accept", "application/ocsp-response")
	client, closeConns := newRunClient(ctx, c.r, o.env, runTransportOpts{follow: true})
	defer closeConns()
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		c.fail("ocsp_transport", fmt.Sprintf("%s %s: %s", req.Method, redactURL(cfg.URL), describeNetErr(ctx, err)), map[string]string{"error": err.Error()})
		return
	}
	defer resp.Body.Close()
	c.base["http_status"] = strconv.Itoa(resp.StatusCode) // every later failure carries it
	body, tooLarge, readErr := readBody(resp.Body, resp.ContentLength, cfg.MaxBodyBytes)
	end := time.Now()
	ph.Record(c.r, end)
	gaugeHTTPStatus(c.r, resp.StatusCode)
	c.r.Gauge("probe_ocsp_request_duration_seconds", "Time from sending an OCSP request to reading the whole answer, by method.", end.Sub(start).Seconds(), Label{"method", req.Method})
	status := map[string]string{"http_status": strconv.Itoa(resp.StatusCode)}
	switch {
	case tooLarge:
		c.fail("ocsp_body_size", fmt.Sprintf("response larger than the %d-byte limit: a hostile or broken responder", cfg.MaxBodyBytes), map[string]string{"limit": strconv.FormatInt(cfg.MaxBodyBytes, 10), "http_status": strconv.Itoa(resp.StatusCode)})
		return
	case readErr != nil:
		c.fail("ocsp_transport", fmt.Sprintf("reading the response: %s", describeNetErr(ctx, readErr)), map[string]string{"error": readErr.Error(), "http_status": strconv.Itoa(resp.StatusCode)})
		return
	}
	c.pass("ocsp_transport", fmt.Sprintf("%s answered in %s", req.Method, roundLatency(end.Sub(start))))
	c.pass("ocsp_body_size", fmt.Sprintf("%d bytes", len(body)))
	if took := end.Sub(start); took > cfg.MaxLatency.D() {
		c.fail("ocsp_latency", fmt.Sprintf("answer took %s, over the %s the BRs allow (§4.10.2)", roundLatency(took), cfg.MaxLatency), map[string]string{"seconds": fmt.Sprintf("%.3f", took.Seconds())})
	} else {
		c.pass("ocsp_latency", fmt.Sprintf("answer took %s", roundLatency(took)))
	}
	if resp.StatusCode != http.StatusOK {
		c.fail("ocsp_http_status", fmt.Sprintf("HTTP %d from %s, want 200", resp.StatusCode, resp.Request.URL.Redacted()), map[string]string{"http_status": strconv.Itoa(resp.StatusCode), "final_url": resp.Request.URL.Redacted(), "body_start": snippet(body)})
		return
	}
	c.pass("ocsp_http_status", "HTTP 200")
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/ocsp-response" {
		c.fail("ocsp_content_type", fmt.Sprintf("Content-Type is %q, want application/ocsp-response (RFC 6960 Appendix A)", ct), map[string]string{"content_type": ct})
	} else {
		c.pass("ocsp_content_type", "application/ocsp-response")
	}

	parsed, err := ocspwire.ParseResponse(body)
	if err != nil {
		c.fail("ocsp_parse", fmt.Sprintf("answer is not an OCSP response: %v", err), mergeEv(status, map[string]string{"body_start": snippet(body), "body_hex": hex.EncodeToString(body[:min(len(body), 64)])}))
		return
	}
	c.pass("ocsp_parse", "DER OCSPResponse")
	if parsed.Status != ocspwire.Successful {
		if parsed.Status == ocspwire.Unauthorized && cfg.NeverIssued {
			c.pass("ocsp_response_status", "unauthorized, which RFC 5019 allows for a serial the responder does not know")
			c.pass("ocsp_status", "never-issued serial not answered good (unauthorized)")
			return
		}
		c.fail("ocsp_response_status", responseStatusMessage(parsed.Status), mergeEv(status, map[string]string{"response_status": parsed.Status.String()}))
		return
	}
	c.pass("ocsp_response_status", "successful")
	o.checkBasic(c, parsed, id, nonce, resp.Header)
}

// checkBasic checks a successful response: CertID, signature and signer,
// times, status, nonce, extensions and caching headers.
func (o *ocspProber) checkBasic(c *checker, parsed *ocspwire.Parsed, id ocspwire.CertID, nonce []byte, hdr http.Header) {
	now := c.r.Now()
	basic := parsed.Basic
	data := basic.TBSResponseData
	if len(data.Responses) == 0 {
		c.fail("ocsp_cert_id", "the response holds no SingleResponse at all", nil)
		return
	}
	var single *ocspwire.SingleResponse
	for i := range data.Responses {
		if certIDDiff(id, data.Responses[i].CertID) == "" {
			single = &data.Responses[i]
			break
		}
	}
	if single == nil {
		got := data.Responses[0].CertID
		c.fail("ocsp_cert_id", "the response answers for another certificate: "+certIDDiff(id, got), map[string]string{
			"want_serial": serialHex(id.SerialNumber), "got_serial": serialHex(got.SerialNumber),
			"want_issuer_name_hash": hex.EncodeToString(id.IssuerNameHash), "got_issuer_name_hash": hex.EncodeToString(got.IssuerNameHash),
			"want_issuer_key_hash": hex.EncodeToString(id.IssuerKeyHash), "got_issuer_key_hash": hex.EncodeToString(got.IssuerKeyHash),
			"got_hash_algorithm": got.HashAlgorithm.Algorithm.String(),
		})
	} else {
		c.pass("ocsp_cert_id", fmt.Sprintf("CertID matches (%s, issuer hashes, serial %s)", hashName(id.HashAlgorithm.Algorithm), serialHex(id.SerialNumber)))
	}

	o.checkSigner(c, parsed, now)

	// Times: those of the matching answer, else of the first (still the
	// responder's freshness, even if it answered for the wrong certificate).
	times := single
	if times == nil {
		times = &data.Responses[0]
	}
	o.checkTimes(c, times, data.ProducedAt, now, hdr)

	if single != nil {
		o.checkStatus(c, single)
	}

	sent := nonce != nil
	got, present := ocspwire.Nonce(data.Extensions)
	switch {
	case present && !sent:
		c.fail("ocsp_nonce", fmt.Sprintf("the response carries nonce %x although the request had none: a cached answer to someone else's request", got), map[string]string{"got_nonce": hex.EncodeToString(got)})
	case present && !bytes.Equal(got, nonce):
		c.fail("ocsp_nonce", fmt.Sprintf("nonce echoed as %x, sent %x (RFC 9654)", got, nonce), map[string]string{"sent_nonce": hex.EncodeToString(nonce), "got_nonce": hex.EncodeToString(got)})
	case present:
		c.pass("ocsp_nonce", "nonce echoed exactly")
	case sent:
		c.pass("ocsp_nonce", "nonce not echoed (optional under RFC 9654; the answer may be pre-produced)")
	default:
		c.pass("ocsp_nonce", "no nonce sent or received")
	}

	var unknown []string
	for _, e := range data.Extensions {
		if e.Critical && !knownResponseExt(e.Id) {
			unknown = append(unknown, e.Id.String())
		}
	}
	if single != nil {
		for _, e := range single.Extensions {
			if e.Critical && !knownSingleExt(e.Id) {
				unknown = append(unknown, e.Id.String())
			}
		}
	}
	if len(unknown) > 0 {
		c.fail("ocsp_extensions", fmt.Sprintf("unknown critical extension %s: a client must reject the response (RFC 5280 §4.2)", strings.Join(unknown, ", ")), map[string]string{"oids": strings.Join(unknown, ",")})
	} else {
		c.pass("ocsp_extensions", "no unknown critical extensions")
	}
}

// checkSigner finds the key that signed the response (the issuer's or a
// certificate the response carries) and judges it as RFC 6960 §4.2.2.2 and
// BR §7.1.2.8 demand.
func (o *ocspProber) checkSigner(c *checker, parsed *ocspwire.Parsed, now time.Time) {
	cfg := o.cfg
	basic := parsed.Basic
	issuer := cfg.IssuerCert
	alg, err := ocspwire.SignatureAlgorithm(basic.SignatureAlgorithm)
	if err != nil {
		c.fail("ocsp_signature", fmt.Sprintf("cannot check the signature: %v", err), map[string]string{"algorithm": basic.SignatureAlgorithm.Algorithm.String()})
		o.checkAlgorithms(c, basic, nil, false)
		return
	}
	sig := basic.Signature.RightAlign()
	var signer *x509.Certificate
	for _, cand := range append([]*x509.Certificate{issuer}, parsed.Certs...) {
		if cand.CheckSignature(alg, basic.TBSResponseData.Raw, sig) == nil {
			signer = cand
			break
		}
	}
	if signer == nil {
		c.fail("ocsp_signature", fmt.Sprintf("the %s signature verifies neither under the issuer %q nor under any of the %d certificates in the response", alg, issuer.Subject.CommonName, len(parsed.Certs)),
			map[string]string{"algorithm": alg.String(), "certificates": strconv.Itoa(len(parsed.Certs))})
		o.checkAlgorithms(c, basic, nil, false)
		return
	}
	byIssuer := bytes.Equal(signer.RawSubjectPublicKeyInfo, issuer.RawSubjectPublicKeyInfo)
	c.pass("ocsp_signature", fmt.Sprintf("%s signature verifies under %q", alg, signer.Subject.CommonName))
	c.r.Gauge("probe_ocsp_signer_not_after_timestamp_seconds", "NotAfter of the certificate that signed the last OCSP response.", float64(signer.NotAfter.Unix()))

	ev := map[string]string{"signer_subject": signer.Subject.String(), "signer_serial": serialHex(signer.SerialNumber), "signer_not_after": rfc3339(signer.NotAfter)}
	var problems []string
	if !byIssuer {
		if p := issuedBy(signer, issuer); p != "" {
			problems = append(problems, p)
		}
		if signer.IsCA {
			problems = append(problems, fmt.Sprintf("responder certificate %q is a CA certificate", signer.Subject.CommonName))
		}
		switch {
		case now.After(signer.NotAfter):
			problems = append(problems, fmt.Sprintf("responder certificate %q expired %s ago (%s)", signer.Subject.CommonName, Ago(now.Sub(signer.NotAfter)), FormatTime(signer.NotAfter)))
		case now.Before(signer.NotBefore):
			problems = append(problems, fmt.Sprintf("responder certificate %q is not valid until %s", signer.Subject.CommonName, FormatTime(signer.NotBefore)))
		}
	}
	if cfg.ResponderCert != nil && !bytes.Equal(signer.Raw, cfg.ResponderCert.Raw) {
		problems = append(problems, fmt.Sprintf("signed by %q (serial %s), not by the pinned responder %q (serial %s)", signer.Subject.CommonName, serialHex(signer.SerialNumber), cfg.ResponderCert.Subject.CommonName, serialHex(cfg.ResponderCert.SerialNumber)))
	}
	switch {
	case len(problems) > 0:
		c.fail("ocsp_signer", strings.Join(problems, "; "), ev)
	case byIssuer:
		c.pass("ocsp_signer", "signed by the issuing CA itself")
	default:
		c.pass("ocsp_signer", fmt.Sprintf("delegated responder %q issued by the issuing CA, valid until %s", signer.Subject.CommonName, FormatTime(signer.NotAfter)))
	}
	if byIssuer {
		c.pass("ocsp_signer_eku", "not needed: signed by the issuing CA")
		c.pass("ocsp_signer_nocheck", "not needed: signed by the issuing CA")
	} else {
		hasEKU := false
		for _, u := range signer.ExtKeyUsage {
			hasEKU = hasEKU || u == x509.ExtKeyUsageOCSPSigning
		}
		if hasEKU {
			c.pass("ocsp_signer_eku", "responder certificate has id-kp-OCSPSigning")
		} else {
			c.fail("ocsp_signer_eku", fmt.Sprintf("responder certificate %q lacks id-kp-OCSPSigning: clients reject its responses (RFC 6960 §4.2.2.2)", signer.Subject.CommonName), ev)
		}
		hasNoCheck := false
		for _, e := range signer.Extensions {
			hasNoCheck = hasNoCheck || e.Id.Equal(ocspwire.OIDNoCheck)
		}
		if hasNoCheck {
			c.pass("ocsp_signer_nocheck", "responder certificate has id-pkix-ocsp-nocheck")
		} else {
			c.fail("ocsp_signer_nocheck", fmt.Sprintf("responder certificate %q lacks id-pkix-ocsp-nocheck (BR §7.1.2.8, RFC 6960 §4.2.2.2.1)", signer.Subject.CommonName), ev)
		}
	}

	o.checkAlgorithms(c, basic, signer, byIssuer)

	rid := basic.TBSResponseData.ResponderID
	switch rid.Tag {
	case ocspwire.ResponderByName:
		if bytes.Equal(rid.Bytes, signer.RawSubject) {
			c.pass("ocsp_responder_id", "ResponderID byName matches the signer")
		} else {
			var name pkix.RDNSequence
			_, _ = asn1.Unmarshal(rid.Bytes, &name)
			c.fail("ocsp_responder_id", fmt.Sprintf("ResponderID names %q but the response is signed by %q", name.String(), signer.Subject.String()), ev)
		}
	case ocspwire.ResponderByKey:
		want, _ := ocspwire.KeyHash(signer)
		got, err := ocspwire.ResponderKeyHash(rid)
		if err == nil && bytes.Equal(got, want) {
			c.pass("ocsp_responder_id", "ResponderID byKey matches the signer")
		} else {
			c.fail("ocsp_responder_id", fmt.Sprintf("ResponderID byKey %x is not the signer's key hash %x", got, want), ev)
		}
	default:
		c.fail("ocsp_responder_id", fmt.Sprintf("ResponderID has tag [%d], neither byName [1] nor byKey [2]", rid.Tag), ev)
	}
}

// issuedBy says why a delegated responder certificate is not issued by the
// issuing CA, or "" when it is. Go refuses SHA-1 in CheckSignatureFrom; a
// SHA-1 signature by the CA still proves issuance (the algorithm is
// ocsp_signature_algorithm's finding), so it is checked again with
// CheckSignature, which accepts SHA-1. Any other error is kept and shown.
func issuedBy(signer, issuer *x509.Certificate) string {
	err := signer.CheckSignatureFrom(issuer)
	if err == nil {
		return ""
	}
	var insecure x509.InsecureAlgorithmError
	if errors.As(err, &insecure) && issuer.CheckSignature(signer.SignatureAlgorithm, signer.RawTBSCertificate, signer.Signature) == nil {
		return ""
	}
	if !bytes.Equal(signer.RawIssuer, issuer.RawSubject) {
		return fmt.Sprintf("responder certificate %q is issued by %q, not by the issuing CA %q (%v)", signer.Subject.CommonName, signer.Issuer.CommonName, issuer.Subject.CommonName, err)
	}
	return fmt.Sprintf("responder certificate %q names the issuing CA %q as its issuer, but its %s signature does not verify under the CA's key: %v", signer.Subject.CommonName, issuer.Subject.CommonName, signer.SignatureAlgorithm, err)
}

// checkAlgorithms is the algorithm policy for OCSP: the response signature
// is not SHA-1 (BR §7.1.3.2.1, from producedAt 2022-06-01) or weaker, the
// signing key meets BR §6.1.5, and a delegated responder certificate is
// not signed with SHA-1 (BR 1.x §7.1.3, issued from 2017-01-01) or weaker.
func (o *ocspProber) checkAlgorithms(c *checker, basic *ocspwire.BasicResponse, signer *x509.Certificate, byIssuer bool) {
	produced := basic.TBSResponseData.ProducedAt
	var found []algFinding
	ev := map[string]string{"algorithm": basic.SignatureAlgorithm.Algorithm.String(), "produced_at": rfc3339(produced)}
	if h, name := weakSignatureOID(basic.SignatureAlgorithm.Algorithm); h != "" {
		rule, since := hashRule(h, "BR §7.1.3.2.1: no SHA-1 OCSP response signatures with producedAt from 2022-06-01", sha1OCSPSince)
		found = append(found, algFinding{what: fmt.Sprintf("the response is signed with %s (%s)", h, name), rule: rule, since: since, at: produced})
	}
	if signer != nil {
		if p := keyProblem(signer.PublicKey); p != "" {
			found = append(found, algFinding{what: fmt.Sprintf("the response is signed by %q with %s", signer.Subject.CommonName, p), rule: "BR §6.1.5, from 2014-01-01", since: weakKeySince, at: produced})
		}
		if !byIssuer {
			ev["signer_algorithm"] = signer.SignatureAlgorithm.String()
			if h := weakSignatureAlgorithm(signer.SignatureAlgorithm); h != "" {
				rule, since := hashRule(h, "BR 1.x §7.1.3: no SHA-1 signed OCSP responder certificates issued from 2017-01-01", sha1CertSince)
				found = append(found, algFinding{what: fmt.Sprintf("responder certificate %q is signed with %s (%s)", signer.Subject.CommonName, h, signer.SignatureAlgorithm), rule: rule, since: since, at: signer.NotBefore})
			}
		}
	}
	ok := "response signed with " + basic.SignatureAlgorithm.Algorithm.String()
	if alg, err := ocspwire.SignatureAlgorithm(basic.SignatureAlgorithm); err == nil {
		ok = "response signed with " + alg.String()
	}
	if signer != nil && !byIssuer {
		ok += fmt.Sprintf(", responder certificate signed with %s", signer.SignatureAlgorithm)
	}
	reportAlgorithms(c, "ocsp_signature_algorithm", found, ok, ev)
}

func (o *ocspProber) checkTimes(c *checker, s *ocspwire.SingleResponse, producedAt, now time.Time, hdr http.Header) {
	cfg := o.cfg
	skew := cfg.Skew.D()
	this, next := s.ThisUpdate, s.NextUpdate
	r := c.r
	r.Gauge("probe_ocsp_this_update_timestamp_seconds", "thisUpdate of the last OCSP response.", float64(this.Unix()))
	r.Gauge("probe_ocsp_produced_at_timestamp_seconds", "producedAt of the last OCSP response.", float64(producedAt.Unix()))
	if !next.IsZero() {
		r.Gauge("probe_ocsp_next_update_timestamp_seconds", "nextUpdate of the last OCSP response.", float64(next.Unix()))
	}
	ev := map[string]string{"this_update": rfc3339(this), "produced_at": rfc3339(producedAt), "now": rfc3339(now)}
	if !next.IsZero() {
		ev["next_update"] = rfc3339(next)
	}
	if this.After(now.Add(skew)) {
		c.fail("ocsp_this_update", fmt.Sprintf("thisUpdate is %s in the future (%s): the responder's clock or signing pipeline is wrong", Ago(this.Sub(now)), FormatTime(this)), ev)
	} else {
		c.pass("ocsp_this_update", "thisUpdate "+FormatTime(this))
	}
	switch {
	case next.IsZero():
		c.fail("ocsp_next_update", "nextUpdate is absent: the BRs require it (§4.9.10)", ev)
	case !next.After(now):
		c.fail("ocsp_next_update", fmt.Sprintf("nextUpdate passed %s ago (%s): the response is stale", Ago(now.Sub(next)), FormatTime(next)), ev)
	default:
		c.pass("ocsp_next_update", fmt.Sprintf("nextUpdate in %s (%s)", Ago(next.Sub(now)), FormatTime(next)))
	}
	o.checkValidity(c, this, next, now, ev)
	o.checkCache(c, hdr, next, now)
}

// checkValidity applies BR §4.9.10 to a response's times. The validity
// interval is nextUpdate − thisUpdate counted inclusively, as the BRs and
// RFC 5280 count it (a response from 00:00:00 to 00:00:59 is valid for a
// minute): it must be at least 8 hours and at most 10 days. A response must
// be replaced no later than four days after thisUpdate, and, while it is
// still valid, by half its validity before nextUpdate when it is valid for
// under 16 hours, else at least 8 hours before nextUpdate.
func (o *ocspProber) checkValidity(c *checker, this, next, now time.Time, ev map[string]string) {
	cfg := o.cfg
	if age := now.Sub(this); age > cfg.MaxAge.D() {
		c.fail("ocsp_this_update_age", fmt.Sprintf("thisUpdate is %s old (%s): a response must be replaced no later than %s after its thisUpdate (BR §4.9.10)", Ago(age), FormatTime(this), days(cfg.MaxAge.D())), ev)
	} else {
		c.pass("ocsp_this_update_age", fmt.Sprintf("thisUpdate %s old", Ago(max(age, 0))))
	}
	if next.IsZero() {
		return // ocsp_next_update has failed already
	}
	validity := next.Sub(this) + time.Second
	ev["validity"] = validity.String()
	if validity > cfg.MaxValidity.D() {
		c.fail("ocsp_validity", fmt.Sprintf("validity interval is %s (nextUpdate − thisUpdate + 1s, counted inclusively), over the %s limit (BR §4.9.10)", exactDuration(validity), days(cfg.MaxValidity.D())), ev)
	} else {
		c.pass("ocsp_validity", "validity interval "+exactDuration(validity))
	}
	if minimum := cfg.MinValidity.D(); minimum > 0 {
		if validity < minimum {
			c.fail("ocsp_validity_min", fmt.Sprintf("validity interval is %s (counted inclusively), under the %s minimum (BR §4.9.10)", exactDuration(validity), days(minimum)), ev)
		} else {
			c.pass("ocsp_validity_min", fmt.Sprintf("validity interval %s, at least %s", exactDuration(validity), days(minimum)))
		}
	}
	if !next.After(now) {
		return // expired: ocsp_next_update says so
	}
	lead, rule := 8*time.Hour, "responses valid for 16h or more must be replaced at least 8h before nextUpdate"
	if validity < 16*time.Hour {
		lead, rule = validity/2, fmt.Sprintf("a response valid for under 16h must be replaced half its validity (%s) before nextUpdate", exactDuration(validity/2))
	}
	deadline := next.Add(-lead)
	if now.After(deadline) {
		ev["refresh_by"] = rfc3339(deadline)
		c.fail("ocsp_refresh", fmt.Sprintf("the response is still served %s before its nextUpdate (%s): %s (BR §4.9.10), so it should have been replaced by %s", Ago(next.Sub(now)), FormatTime(next), rule, FormatTime(deadline)), ev)
	} else {
		c.pass("ocsp_refresh", fmt.Sprintf("due for replacement by %s (%s before nextUpdate)", FormatTime(deadline), exactDuration(lead)))
	}
}

// exactDuration prints a duration to the second: 240h0m1s, 4h0m0s.
func exactDuration(d time.Duration) string { return d.Round(time.Second).String() }

// checkCache warns when HTTP caching outlives nextUpdate (RFC 5019 §6.2).
func (o *ocspProber) checkCache(c *checker, hdr http.Header, next, now time.Time) {
	slack := o.cfg.Skew.D()
	var problems []string
	ev := map[string]string{"cache_control": hdr.Get("Cache-Control"), "expires": hdr.Get("Expires")}
	if !next.IsZero() {
		ev["next_update"] = rfc3339(next)
	}
	if maxAge, ok := cacheMaxAge(hdr.Get("Cache-Control")); ok && maxAge > 0 && !next.IsZero() {
		if until := now.Add(maxAge); until.After(next.Add(slack)) {
			problems = append(problems, fmt.Sprintf("Cache-Control max-age=%d lets caches serve the response %s past nextUpdate (%s)", int64(maxAge.Seconds()), Ago(until.Sub(next)), FormatTime(next)))
		}
	}
	if e := hdr.Get("Expires"); e != "" && !next.IsZero() {
		if t, err := http.ParseTime(e); err != nil {
			problems = append(problems, fmt.Sprintf("Expires %q is not an HTTP date", e))
		} else if t.After(next.Add(slack)) {
			problems = append(problems, fmt.Sprintf("Expires %s is %s after nextUpdate (%s)", FormatTime(t), Ago(t.Sub(next)), FormatTime(next)))
		}
	}
	if len(problems) > 0 {
		c.warn("ocsp_cache_headers", strings.Join(problems, "; ")+" (RFC 5019 §6.2)", ev)
	} else {
		c.pass("ocsp_cache_headers", "caching headers within nextUpdate")
	}
}

func cacheMaxAge(cc string) (time.Duration, bool) {
	for _, part := range strings.Split(cc, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(k, "max-age") && !strings.EqualFold(k, "s-maxage") {
			continue
		}
		n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
		if err != nil || n < 0 {
			continue
		}
		return time.Duration(n) * time.Second, true
	}
	return 0, false
}

func (o *ocspProber) checkStatus(c *checker, s *ocspwire.SingleResponse) {
	cfg := o.cfg
	r := c.r
	status := ""
	var revokedAt time.Time
	reason := -1
	tag := s.CertStatus.Tag
	if s.CertStatus.Class != asn1.ClassContextSpecific {
		tag = -1 // a universal SEQUENCE is no [16] of the CHOICE
	}
	switch tag {
	case ocspwire.StatusGood:
		status = "good"
	case ocspwire.StatusUnknown:
		status = "unknown"
	case ocspwire.StatusRevoked:
		status = "revoked"
		seq, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: s.CertStatus.Bytes})
		var info ocspwire.RevokedInfo
		if _, err := asn1.Unmarshal(seq, &info); err != nil {
			c.fail("ocsp_status", fmt.Sprintf("revoked, but RevokedInfo does not parse: %v", err), nil)
			return
		}
		revokedAt = info.RevocationTime
		if len(info.Reason.Bytes) > 0 {
			var e asn1.Enumerated
			if _, err := asn1.Unmarshal(info.Reason.Bytes, &e); err != nil {
				c.fail("ocsp_status", fmt.Sprintf("revoked, but the revocationReason does not parse: %v", err), nil)
				return
			}
			reason = int(e)
		}
		r.Gauge("probe_ocsp_revocation_timestamp_seconds", "revocationTime of the last OCSP response (revoked certificates only).", float64(revokedAt.Unix()))
	default:
		c.fail("ocsp_status", fmt.Sprintf("CertStatus has %s tag %d, not good [0], revoked [1] or unknown [2]", tagClass(s.CertStatus.Class), s.CertStatus.Tag), nil)
		return
	}
	for _, st := range []string{"good", "revoked", "unknown"} {
		v := 0.0
		if st == status {
			v = 1
		}
		r.Gauge("probe_ocsp_cert_status", "Certificate status in the last OCSP response (1 for the status given).", v, Label{"status", st})
	}
	ev := map[string]string{"status": status}
	desc := status
	if status == "revoked" {
		ev["revocation_time"] = rfc3339(revokedAt)
		desc = fmt.Sprintf("revoked at %s", FormatTime(revokedAt))
		if reason >= 0 {
			ev["reason"] = config.ReasonName(reason)
			desc += " (" + config.ReasonName(reason) + ")"
		}
	}
	switch {
	case cfg.NeverIssued:
		if status == "good" {
			c.fail("ocsp_status", fmt.Sprintf("never-issued serial %s answered good: the responder vouches for certificates it never issued (BR §4.9.10)", serialHex(s.CertID.SerialNumber)), ev)
		} else {
			c.pass("ocsp_status", "never-issued serial answered "+desc)
		}
	case status != cfg.Expect:
		c.fail("ocsp_status", fmt.Sprintf("certificate %s is %s, want %s", serialHex(s.CertID.SerialNumber), desc, cfg.Expect), ev)
	case cfg.ReasonCode >= 0 && reason != cfg.ReasonCode:
		got := "no reason"
		if reason >= 0 {
			got = config.ReasonName(reason)
		}
		c.fail("ocsp_status", fmt.Sprintf("certificate %s is revoked with %s, want %s", serialHex(s.CertID.SerialNumber), got, config.ReasonName(cfg.ReasonCode)), ev)
	default:
		c.pass("ocsp_status", desc)
	}
}

// tagClass names an ASN.1 tag class.
func tagClass(c int) string {
	switch c {
	case asn1.ClassUniversal:
		return "universal"
	case asn1.ClassApplication:
		return "application"
	case asn1.ClassContextSpecific:
		return "context-specific"
	}
	return "private"
}

// getURL appends the request to the responder URL as RFC 5019 §5 asks:
// base64, then URL-encoded ('/', '+' and '=' escaped, which some servers
// otherwise mangle).
func getURL(base string, der []byte) string {
	enc := base64.StdEncoding.EncodeToString(der)
	enc = url.PathEscape(enc)
	enc = strings.NewReplacer("+", "%2B", "=", "%3D").Replace(enc)
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + enc
}

// certIDDiff describes how a response's CertID differs from the request's,
// or returns "" when they match in every field.
func certIDDiff(want, got ocspwire.CertID) string {
	var d []string
	if !got.HashAlgorithm.Algorithm.Equal(want.HashAlgorithm.Algorithm) {
		d = append(d, fmt.Sprintf("hash algorithm %s, asked %s", hashName(got.HashAlgorithm.Algorithm), hashName(want.HashAlgorithm.Algorithm)))
	}
	if !bytes.Equal(got.IssuerNameHash, want.IssuerNameHash) {
		d = append(d, fmt.Sprintf("issuerNameHash %x, asked %x", got.IssuerNameHash, want.IssuerNameHash))
	}
	if !bytes.Equal(got.IssuerKeyHash, want.IssuerKeyHash) {
		d = append(d, fmt.Sprintf("issuerKeyHash %x, asked %x", got.IssuerKeyHash, want.IssuerKeyHash))
	}
	if got.SerialNumber == nil || got.SerialNumber.Cmp(want.SerialNumber) != 0 {
		d = append(d, fmt.Sprintf("serial %s, asked %s", serialHex(got.SerialNumber), serialHex(want.SerialNumber)))
	}
	return strings.Join(d, "; ")
}

func hashName(oid asn1.ObjectIdentifier) string {
	if h, ok := ocspwire.HashFromOID(oid); ok {
		return strings.ToLower(strings.ReplaceAll(h.String(), "-", ""))
	}
	return oid.String()
}

func serialHex(n *big.Int) string {
	if n == nil {
		return "(none)"
	}
	return "0x" + n.Text(16)
}

func knownResponseExt(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(ocspwire.OIDNonce) || oid.Equal(ocspwire.OIDCRLID) || oid.Equal(ocspwire.OIDArchiveCutoff) || oid.Equal(ocspwire.OIDExtendedRevoke)
}

func knownSingleExt(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(ocspwire.OIDCRLID) || oid.Equal(ocspwire.OIDArchiveCutoff) || oid.Equal(ocspwire.OIDInvalidityDate)
}

func responseStatusMessage(s ocspwire.ResponseStatus) string {
	switch s {
	case ocspwire.MalformedRequest:
		return "responder answered malformedRequest: it could not parse our request (for GET, check how it decodes the URL)"
	case ocspwire.InternalError:
		return "responder answered internalError: it is in an inconsistent internal state"
	case ocspwire.TryLater:
		return "responder answered tryLater: it is up but cannot answer now (signing backend down or overloaded?)"
	case ocspwire.SigRequired:
		return "responder answered sigRequired: it wants signed requests, which public responders must not (RFC 5019)"
	case ocspwire.Unauthorized:
		return "responder answered unauthorized: it does not serve this issuer or certificate (issuing CA missing from the responder, or a CDN not proxying?)"
	}
	return fmt.Sprintf("responder answered an undefined status %d", int(s))
}

func mergeEv(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}

// roundLatency keeps three significant figures or so: 412µs, 3.2ms, 1.25s.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < time.Second:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}
