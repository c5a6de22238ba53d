package probes

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/probed/probed/config"
)

// crlProber is the crl kind: one distribution point fetched, its CRL
// checked against RFC 5280 §5 and BR §4.9.7/§7.2, and diffed against the CRL
// seen before (kept in Env.State, so across restarts).
type crlProber struct {
	name  string
	cfg   *config.CRLProbe
	env   Env
	known map[serialKey]time.Time // expiry of the configured certificates
}

var _ Prober = (*crlProber)(nil)

func newCRL(p *config.Probe, env Env) (Prober, error) {
	c := p.CRL
	switch {
	case c == nil:
		return nil, errors.New("missing crl section")
	case c.IssuerCert == nil:
		return nil, errors.New("crl: issuer certificate not loaded")
	}
	known := map[serialKey]time.Time{}
	for _, cert := range c.Known {
		known[keyOf(cert.SerialNumber)] = cert.NotAfter
	}
	return &crlProber{name: p.Name, cfg: c, env: env, known: known}, nil
}

// CRL extensions of RFC 5280 §5.2 (and the AIA of §5.2.7) that probed
// processes; any other critical one makes the CRL unusable (§5.2).
var (
	oidIDP           = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidDeltaCRL      = asn1.ObjectIdentifier{2, 5, 29, 27}
	knownCRLExtTypes = []asn1.ObjectIdentifier{
		{2, 5, 29, 35},              // authorityKeyIdentifier
		{2, 5, 29, 18},              // issuerAltName
		{2, 5, 29, 20},              // cRLNumber
		oidDeltaCRL,                 // deltaCRLIndicator (judged by crl_delta)
		oidIDP,                      // issuingDistributionPoint
		{2, 5, 29, 46},              // freshestCRL
		{1, 3, 6, 1, 5, 5, 7, 1, 1}, // authorityInfoAccess
	}
)

// CRL reason codes the checks name.
const (
	reasonUnspecified     = 0
	reasonCertificateHold = 6
)

// Probe fetches and checks the CRL.
func (p *crlProber) Probe(ctx context.Context, r *Report) {
	cfg := p.cfg
	c := &checker{r: r, base: map[string]string{"url": cfg.URL}}
	body, finalURL, ok := p.fetch(ctx, c)
	if !ok {
		return
	}
	p.checkURL(c, finalURL)
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("-----BEGIN")) {
		c.fail("crl_parse", "the CRL is PEM; distribution points must serve DER (RFC 5280 §4.2.1.13)", map[string]string{"body_start": snippet(body)})
		return
	}
	if v, err := crlVersion(body); err != nil {
		c.fail("crl_parse", fmt.Sprintf("not a DER CRL: %v", err), map[string]string{"body_start": snippet(body), "body_hex": hex.EncodeToString(body[:min(len(body), 64)])})
		return
	} else if v != 2 {
		c.fail("crl_version", fmt.Sprintf("CRL is version %d; RFC 5280 §5.1.2.1 and the BRs need v2 (extensions)", v), map[string]string{"version": strconv.Itoa(v)})
		return
	}
	c.pass("crl_version", "v2")
	rl, err := parseCRL(body)
	if err != nil {
		c.fail("crl_parse", fmt.Sprintf("not a valid CRL: %v", err), map[string]string{"body_start": snippet(body)})
		return
	}
	c.pass("crl_parse", fmt.Sprintf("DER CRL with %d entries", len(rl.serials)))
	p.checkCRL(ctx, c, rl)
}

// fetch downloads the CRL within max_bytes.
func (p *crlProber) fetch(ctx context.Context, c *checker) (body []byte, final *url.URL, ok bool) {
	cfg := p.cfg
	var ph Phases
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, ph.Trace()), http.MethodGet, cfg.URL, nil)
	if err != nil {
		c.fail("crl_transport", fmt.Sprintf("cannot build the request: %v", err), nil)
		return nil, nil, false
	}
	req.Header.Set("User-Agent", "probed")
	start := time.Now()
	client, closeConns := newRunClient(ctx, c.r, p.env, runTransportOpts{follow: true})
	defer closeConns()
	resp, err := client.Do(req)
	if err != nil {
		c.fail("crl_transport", fmt.Sprintf("GET %s: %s", redactURL(cfg.URL), describeNetErr(ctx, err)), map[string]string{"error": err.Error()})
		return nil, nil, false
	}
	defer resp.Body.Close()
	status := strconv.Itoa(resp.StatusCode)
	c.base["http_status"] = status // every later failure carries it
	gaugeHTTPStatus(c.r, resp.StatusCode)
	if resp.StatusCode != http.StatusOK {
		ph.Record(c.r, time.Now())
		c.pass("crl_transport", "connected")
		c.fail("crl_http_status", fmt.Sprintf("HTTP %d from %s, want 200", resp.StatusCode, resp.Request.URL.Redacted()), map[string]string{"http_status": status, "final_url": resp.Request.URL.Redacted()})
		return nil, nil, false
	}
	c.pass("crl_http_status", "HTTP 200")
	if resp.ContentLength > cfg.MaxBytes {
		ph.Record(c.r, time.Now())
		c.pass("crl_transport", "connected")
		c.fail("crl_body_size", fmt.Sprintf("Content-Length %d is over max_bytes %d", resp.ContentLength, cfg.MaxBytes), map[string]string{"content_length": strconv.FormatInt(resp.ContentLength, 10), "limit": strconv.FormatInt(cfg.MaxBytes, 10), "http_status": status})
		return nil, nil, false
	}
	body, tooLarge, err := readBody(resp.Body, resp.ContentLength, cfg.MaxBytes)
	end := time.Now()
	ph.Record(c.r, end)
	c.r.Gauge("probe_crl_bytes", "Size of the last CRL downloaded.", float64(len(body)))
	switch {
	case tooLarge:
		c.pass("crl_transport", "connected")
		c.fail("crl_body_size", fmt.Sprintf("CRL larger than max_bytes %d", cfg.MaxBytes), map[string]string{"limit": strconv.FormatInt(cfg.MaxBytes, 10), "http_status": status})
		return nil, nil, false
	case err != nil:
		c.fail("crl_transport", fmt.Sprintf("reading the CRL: %s", describeNetErr(ctx, err)), map[string]string{"error": err.Error(), "http_status": status, "bytes_read": strconv.Itoa(len(body))})
		return nil, nil, false
	}
	c.pass("crl_transport", fmt.Sprintf("%d bytes in %s", len(body), roundLatency(end.Sub(start))))
	c.pass("crl_body_size", fmt.Sprintf("%d bytes (limit %d)", len(body), cfg.MaxBytes))
	return body, resp.Request.URL, true
}

// checkURL: BR §7.1.2.11.2 wants CRL distribution points over plain http
// (a client must not need revocation checking to fetch revocation data).
func (p *crlProber) checkURL(c *checker, final *url.URL) {
	var bad []string
	if u, err := url.Parse(p.cfg.URL); err == nil && u.Scheme != "http" {
		bad = append(bad, p.cfg.URL)
	}
	if final != nil && final.Scheme != "http" && final.String() != p.cfg.URL {
		bad = append(bad, "redirected to "+final.Redacted())
	}
	if len(bad) > 0 {
		c.fail("crl_url", fmt.Sprintf("CRL served over %s; distribution points must be http URLs (BR §7.1.2.11.2)", strings.Join(bad, ", ")), map[string]string{"final_url": final.Redacted()})
	} else {
		c.pass("crl_url", "http")
	}
}

func (p *crlProber) checkCRL(ctx context.Context, c *checker, rl *parsedCRL) {
	cfg := p.cfg
	issuer := cfg.IssuerCert
	now := c.r.Now()
	r := c.r

	if err := rl.CheckSignatureFrom(issuer); err != nil {
		c.fail("crl_signature", fmt.Sprintf("signature does not verify under the issuer %q: %v", issuer.Subject.CommonName, err), map[string]string{"algorithm": rl.SignatureAlgorithm.String(), "issuer": issuer.Subject.String()})
	} else {
		c.pass("crl_signature", fmt.Sprintf("%s signature verifies under %q", rl.SignatureAlgorithm, issuer.Subject.CommonName))
	}
	checkCRLAlgorithms(c, rl, issuer)
	if bytes.Equal(rl.RawIssuer, issuer.RawSubject) {
		c.pass("crl_issuer_name", "issuer name byte-identical to the CA subject")
	} else {
		what := "a different name"
		if rl.Issuer.String() == issuer.Subject.String() {
			what = "the same name encoded differently"
		}
		c.fail("crl_issuer_name", fmt.Sprintf("CRL issuer %q is %s than the CA subject %q: RFC 5280 §7.1 name matching is byte-wise for most clients", rl.Issuer.String(), what, issuer.Subject.String()),
			map[string]string{"crl_issuer_hex": hex.EncodeToString(rl.RawIssuer), "ca_subject_hex": hex.EncodeToString(issuer.RawSubject)})
	}
	switch {
	case len(rl.AuthorityKeyId) == 0:
		c.fail("crl_aki", "no authorityKeyIdentifier (RFC 5280 §5.2.1 requires it)", nil)
	case len(issuer.SubjectKeyId) > 0 && !bytes.Equal(rl.AuthorityKeyId, issuer.SubjectKeyId):
		c.fail("crl_aki", fmt.Sprintf("authorityKeyIdentifier %x is not the CA's subjectKeyIdentifier %x", rl.AuthorityKeyId, issuer.SubjectKeyId), map[string]string{"aki": hex.EncodeToString(rl.AuthorityKeyId), "ski": hex.EncodeToString(issuer.SubjectKeyId)})
	default:
		c.pass("crl_aki", "authorityKeyIdentifier matches the CA")
	}
	if rl.Number == nil {
		c.fail("crl_number", "no CRLNumber extension (RFC 5280 §5.2.3, BR §7.2.2 require it)", nil)
	} else {
		c.pass("crl_number", "CRL number "+rl.Number.String())
		n, _ := new(big.Float).SetInt(rl.Number).Float64()
		r.Gauge("probe_crl_number", "CRLNumber of the last CRL.", n)
	}

	// Times.
	this, next := rl.ThisUpdate, rl.NextUpdate
	r.Gauge("probe_crl_this_update_timestamp_seconds", "thisUpdate of the last CRL.", float64(this.Unix()))
	ev := map[string]string{"this_update": rfc3339(this), "now": rfc3339(now)}
	if !next.IsZero() {
		r.Gauge("probe_crl_next_update_timestamp_seconds", "nextUpdate of the last CRL.", float64(next.Unix()))
		ev["next_update"] = rfc3339(next)
	}
	if this.After(now.Add(cfg.Skew.D())) {
		c.fail("crl_this_update", fmt.Sprintf("thisUpdate is %s in the future (%s)", Ago(this.Sub(now)), FormatTime(this)), ev)
	} else {
		c.pass("crl_this_update", "thisUpdate "+FormatTime(this))
	}
	switch {
	case next.IsZero():
		c.fail("crl_next_update", "nextUpdate is absent: RFC 5280 §5.1.2.5 and the BRs require it", ev)
	case !next.After(now):
		c.fail("crl_next_update", fmt.Sprintf("nextUpdate passed %s ago (%s): the CRL has expired and relying parties reject it", Ago(now.Sub(next)), FormatTime(next)), ev)
	default:
		c.pass("crl_next_update", fmt.Sprintf("nextUpdate in %s (%s)", Ago(next.Sub(now)), FormatTime(next)))
	}
	if !next.IsZero() {
		if v := next.Sub(this); v > cfg.MaxValidity.D() {
			c.fail("crl_validity", fmt.Sprintf("validity nextUpdate − thisUpdate is %s, over the %s limit for %s CRLs (BR §4.9.7)", Ago(v), days(cfg.MaxValidity.D()), cfg.Kind), ev)
		} else {
			c.pass("crl_validity", "validity "+Ago(v))
		}
	}
	if age := now.Sub(this); age > cfg.MaxAge.D() {
		c.fail("crl_this_update_age", fmt.Sprintf("thisUpdate is %s old (%s): %s CRLs must be reissued within %s (BR §4.9.7)", Ago(age), FormatTime(this), cfg.Kind, days(cfg.MaxAge.D())), ev)
	} else {
		c.pass("crl_this_update_age", fmt.Sprintf("thisUpdate %s old", Ago(max(age, 0))))
	}

	p.checkIDP(c, rl)
	checkCRLExtensions(c, rl)

	// Entries: reasons, and the compact serial set for the diff.
	set := rl.serials
	r.Gauge("probe_crl_entries", "Entries in the last CRL.", float64(len(set)))
	p.checkEntryReasons(c, rl)
	checkEntryExtensions(c, rl)
	slices.SortFunc(set, func(a, b serialEntry) int { return bytes.Compare(a.key[:], b.key[:]) })
	set = slices.CompactFunc(set, func(a, b serialEntry) bool { return a.key == b.key })

	p.diff(ctx, c, rl, set, now)
}

// checkCRLAlgorithms is the algorithm policy for CRLs: no SHA-1 (or
// weaker) signature, no issuer key under the BR minimums, each judged at
// the CRL's thisUpdate.
func checkCRLAlgorithms(c *checker, rl *parsedCRL, issuer *x509.Certificate) {
	var found []algFinding
	ev := map[string]string{"algorithm": rl.SignatureAlgorithm.String(), "this_update": rfc3339(rl.ThisUpdate)}
	if h := weakSignatureAlgorithm(rl.SignatureAlgorithm); h != "" {
		rule, since := hashRule(h, "BR §7.1.3.2.1: no SHA-1 CRL signatures from 2026-09-15", sha1CRLSince)
		found = append(found, algFinding{what: fmt.Sprintf("the CRL is signed with %s (%s)", h, rl.SignatureAlgorithm), rule: rule, since: since, at: rl.ThisUpdate})
	}
	if p := keyProblem(issuer.PublicKey); p != "" {
		found = append(found, algFinding{what: fmt.Sprintf("the issuer %q signs with %s", issuer.Subject.CommonName, p), rule: "BR §6.1.5, from 2014-01-01", since: weakKeySince, at: rl.ThisUpdate})
	}
	reportAlgorithms(c, "crl_signature_algorithm", found, fmt.Sprintf("%s, %s key", rl.SignatureAlgorithm, issuer.PublicKeyAlgorithm), ev)
}

// checkEntryReasons: BR §7.2.2 allows keyCompromise, affiliationChanged,
// superseded, cessationOfOperation and privilegeWithdrawn, and cACompromise
// on CRLs of CA certificates; unspecified must be left out, never written.
func (p *crlProber) checkEntryReasons(c *checker, rl *parsedCRL) {
	holds, unspecified := rl.holds, rl.unspecified
	var problems []string
	if len(holds) > 0 {
		problems = append(problems, fmt.Sprintf("%d entries with reason certificateHold, which the BRs forbid (§7.2.2): %s", len(holds), fewKeys(holds)))
	}
	if len(unspecified) > 0 {
		problems = append(problems, fmt.Sprintf("%d entries with an explicit reasonCode unspecified, which the BRs forbid (§7.2.2: omit the extension instead): %s", len(unspecified), fewKeys(unspecified)))
	}
	byReason := map[int][]serialKey{}
	var codes []int
	for _, e := range rl.otherReasons {
		if e.reason == 2 && p.cfg.Kind == "ca" {
			continue // cACompromise revokes CA certificates
		}
		if _, seen := byReason[e.reason]; !seen {
			codes = append(codes, e.reason)
		}
		byReason[e.reason] = append(byReason[e.reason], e.key)
	}
	slices.Sort(codes)
	ev := map[string]string{"certificate_hold": fewKeys(holds), "unspecified": fewKeys(unspecified)}
	for _, code := range codes {
		keys := byReason[code]
		why := "not a reason the BRs allow (§7.2.2: keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn"
		if p.cfg.Kind == "ca" {
			why += ", cACompromise"
		}
		why += ")"
		if code == 2 {
			why = "which revokes CA certificates; a subscriber CRL may not use it (BR §7.2.2; set crl.kind: ca for a CRL of CA certificates)"
		}
		problems = append(problems, fmt.Sprintf("%d entries with reason %s, %s: %s", len(keys), config.ReasonName(code), why, fewKeys(keys)))
		ev["reason_"+config.ReasonName(code)] = fewKeys(keys)
	}
	if len(problems) > 0 {
		c.fail("crl_entry_reasons", strings.Join(problems, "; "), ev)
	} else {
		c.pass("crl_entry_reasons", "every reasonCode is one the BRs allow")
	}
}

// checkEntryExtensions: reasonCode must not be critical (RFC 5280 §5.3.1,
// BR §7.2.2), and an unknown critical entry extension makes the whole CRL
// unusable (RFC 5280 §5.3). certificateIssuer, which §5.3.3 makes
// critical, and a critical invalidityDate are known and pass.
func checkEntryExtensions(c *checker, rl *parsedCRL) {
	var problems []string
	ev := map[string]string{}
	if n := len(rl.criticalReason); n > 0 {
		problems = append(problems, fmt.Sprintf("%d entries with a critical reasonCode, which must not be critical (RFC 5280 §5.3.1, BR §7.2.2): %s", n, fewKeys(rl.criticalReason)))
		ev["critical_reason_code"] = fewKeys(rl.criticalReason)
	}
	if n := len(rl.unknownCritical); n > 0 {
		byOID := map[string][]serialKey{}
		var oids []string
		for _, e := range rl.unknownCritical {
			if _, seen := byOID[e.oid]; !seen {
				oids = append(oids, e.oid)
			}
			byOID[e.oid] = append(byOID[e.oid], e.key)
		}
		slices.Sort(oids)
		for _, oid := range oids {
			problems = append(problems, fmt.Sprintf("%d entries with unknown critical extension %s: relying parties must not use this CRL (RFC 5280 §5.3): %s", len(byOID[oid]), oid, fewKeys(byOID[oid])))
			ev["unknown_critical_"+oid] = fewKeys(byOID[oid])
		}
	}
	if len(problems) > 0 {
		c.fail("crl_entry_extensions", strings.Join(problems, "; "), ev)
	} else {
		c.pass("crl_entry_extensions", "no critical reasonCode, no unknown critical entry extension")
	}
}

// checkCRLExtensions: a CRL with a critical extension the relying party
// does not process must not be used (RFC 5280 §5.2); and the URL probed is
// a distribution point, where a full CRL belongs: a delta CRL there
// (deltaCRLIndicator, §5.2.4) leaves clients without the base it updates.
func checkCRLExtensions(c *checker, rl *parsedCRL) {
	var unknown []string
	delta := false
	for _, e := range rl.Extensions {
		if e.Id.Equal(oidDeltaCRL) {
			delta = true
		}
		if e.Critical && !slices.ContainsFunc(knownCRLExtTypes, e.Id.Equal) {
			unknown = append(unknown, e.Id.String())
		}
	}
	if len(unknown) > 0 {
		c.fail("crl_extensions", fmt.Sprintf("unknown critical CRL extension %s: relying parties must not use this CRL (RFC 5280 §5.2)", strings.Join(unknown, ", ")), map[string]string{"oids": strings.Join(unknown, ",")})
	} else {
		c.pass("crl_extensions", "no unknown critical CRL extension")
	}
	if delta {
		c.fail("crl_delta", "the CRL carries a deltaCRLIndicator: a delta CRL is served where the full CRL belongs (RFC 5280 §5.2.4; delta CRLs are found through freshestCRL, §5.2.6)", nil)
	} else {
		c.pass("crl_delta", "a full CRL (no deltaCRLIndicator)")
	}
}

// fewKeys lists up to five serials, converting no more than it shows.
func fewKeys(keys []serialKey) string {
	var list []string
	for _, k := range keys[:min(len(keys), 5)] {
		list = append(list, k.String())
	}
	if len(keys) > 5 {
		return strings.Join(list, ", ") + fmt.Sprintf(" and %d more", len(keys)-5)
	}
	return strings.Join(list, ", ")
}

// issuingDistributionPoint is RFC 5280 §5.2.5, as far as the checks read it.
type issuingDistributionPoint struct {
	DistributionPoint struct {
		FullName []asn1.RawValue `asn1:"optional,tag:0"`
	} `asn1:"optional,tag:0"`
	OnlyContainsUserCerts bool           `asn1:"optional,tag:1"`
	OnlyContainsCACerts   bool           `asn1:"optional,tag:2"`
	OnlySomeReasons       asn1.BitString `asn1:"optional,tag:3"`
	IndirectCRL           bool           `asn1:"optional,tag:4"`
	OnlyContainsAttrCerts bool           `asn1:"optional,tag:5"`
}

func (p *crlProber) checkIDP(c *checker, rl *parsedCRL) {
	cfg := p.cfg
	want := cfg.ExpectedIDP
	if want == "" {
		want = cfg.URL
	}
	for _, e := range rl.Extensions {
		if !e.Id.Equal(oidIDP) {
			continue
		}
		var idp issuingDistributionPoint
		if _, err := asn1.Unmarshal(e.Value, &idp); err != nil {
			c.fail("crl_idp", fmt.Sprintf("issuingDistributionPoint does not parse: %v", err), nil)
			c.fail("crl_idp_scope", fmt.Sprintf("issuingDistributionPoint does not parse: %v", err), nil)
			return
		}
		checkIDPScope(c, &idp)
		var uris []string
		for _, n := range idp.DistributionPoint.FullName {
			if n.Class == asn1.ClassContextSpecific && n.Tag == 6 {
				uris = append(uris, string(n.Bytes))
			}
		}
		ev := map[string]string{"idp_uris": strings.Join(uris, " "), "want": want, "critical": strconv.FormatBool(e.Critical)}
		switch {
		case !e.Critical:
			c.fail("crl_idp", "issuingDistributionPoint is not critical (RFC 5280 §5.2.5 requires it to be)", ev)
		case len(uris) == 0:
			c.fail("crl_idp", fmt.Sprintf("issuingDistributionPoint names no distribution point URI, so it cannot name %s (BR §7.2.2.1: a partitioned CRL's distributionPoint fullName MUST be present)", want), ev)
		case !slices.Contains(uris, want):
			c.fail("crl_idp", fmt.Sprintf("issuingDistributionPoint names %s, not %s: this is another shard's CRL, or the URL moved", strings.Join(uris, ", "), want), ev)
		default:
			c.pass("crl_idp", "critical issuingDistributionPoint names "+want)
		}
		return
	}
	c.pass("crl_idp_scope", "no issuingDistributionPoint: a direct CRL of every reason")
	if cfg.RequireIDP || cfg.ExpectedIDP != "" {
		c.fail("crl_idp", fmt.Sprintf("no issuingDistributionPoint, but a partitioned CRL naming %s is expected", want), map[string]string{"want": want})
		return
	}
	c.pass("crl_idp", "full CRL (no issuingDistributionPoint)")
}

// checkIDPScope: a BR CRL is a direct CRL of public-key certificates for
// every reason (BR §7.2.2.1): an indirect CRL, one of attribute
// certificates (which RFC 5280 §5.2.5 forbids conforming issuers to make)
// or one limited to some reasons leaves revocations out of what clients
// fetch at this URL.
func checkIDPScope(c *checker, idp *issuingDistributionPoint) {
	var bad []string
	ev := map[string]string{}
	if idp.IndirectCRL {
		bad = append(bad, "indirectCRL is TRUE (entries may belong to other CAs)")
		ev["indirect_crl"] = "true"
	}
	if idp.OnlyContainsAttrCerts {
		bad = append(bad, "onlyContainsAttributeCerts is TRUE (RFC 5280 §5.2.5: conforming CRL issuers set it FALSE)")
		ev["only_contains_attribute_certs"] = "true"
	}
	if idp.OnlySomeReasons.BitLength > 0 || len(idp.OnlySomeReasons.Bytes) > 0 {
		bad = append(bad, fmt.Sprintf("onlySomeReasons is present (%x): revocations for other reasons are not on this CRL", idp.OnlySomeReasons.Bytes))
		ev["only_some_reasons"] = hex.EncodeToString(idp.OnlySomeReasons.Bytes)
	}
	if len(bad) > 0 {
		c.fail("crl_idp_scope", "issuingDistributionPoint "+strings.Join(bad, "; ")+" (BR §7.2.2.1 allows none of these)", ev)
		return
	}
	c.pass("crl_idp_scope", "direct CRL of every reason")
}

// serialKey is a serial number as a fixed-size map and sort key: its length,
// then its big-endian bytes (RFC 5280 caps serials at 20 octets). Compact:
// 21 bytes per entry, no pointers, so 100,000 entries cost 2 MB, not 20.
type serialKey [21]byte

func keyOf(n *big.Int) serialKey {
	var k serialKey
	b := n.Bytes()
	if len(b) > 20 {
		b = b[len(b)-20:] // out of spec; keep the low bytes
	}
	k[0] = byte(len(b))
	copy(k[1+20-len(b):], b)
	return k
}

func (k serialKey) String() string {
	n := int(k[0])
	return "0x" + strings.TrimLeft(hex.EncodeToString(k[1+20-n:]), "0")
}

// serialEntry is one serial of a CRL: when it was revoked and, when known,
// when its certificate expires (unix seconds, 0 when unknown).
type serialEntry struct {
	key     serialKey
	revoked int64
	expires int64
}

// crlState is what the kind remembers across runs: the highest CRL number
// seen with its thisUpdate, and the serials to diff the next CRL against.
type crlState struct {
	number     *big.Int
	thisUpdate int64
	serials    []serialEntry // sorted by key
}

const crlStateKey = "crl"
const crlStateVersion = 1

func (s *crlState) marshal() []byte {
	nb := s.number.Bytes()
	out := make([]byte, 0, 32+len(nb)+len(s.serials)*(21+2*binary.MaxVarintLen64))
	out = append(out, crlStateVersion, byte(len(nb)))
	out = append(out, nb...)
	out = binary.AppendVarint(out, s.thisUpdate)
	out = binary.AppendUvarint(out, uint64(len(s.serials)))
	for _, e := range s.serials {
		out = append(out, e.key[:]...)
		out = binary.AppendVarint(out, e.revoked)
		out = binary.AppendVarint(out, e.expires)
	}
	return out
}

func unmarshalCRLState(b []byte) (*crlState, error) {
	if len(b) < 2 || b[0] != crlStateVersion {
		return nil, errors.New("unknown state format")
	}
	nl := int(b[1])
	b = b[2:]
	if len(b) < nl {
		return nil, errors.New("state truncated")
	}
	s := &crlState{number: new(big.Int).SetBytes(b[:nl])}
	b = b[nl:]
	var n int
	s.thisUpdate, n = binary.Varint(b)
	if n <= 0 {
		return nil, errors.New("state truncated")
	}
	b = b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, errors.New("state truncated")
	}
	b = b[n:]
	s.serials = make([]serialEntry, 0, count)
	for range count {
		if len(b) < 21 {
			return nil, errors.New("state truncated")
		}
		var e serialEntry
		copy(e.key[:], b[:21])
		b = b[21:]
		if e.revoked, n = binary.Varint(b); n <= 0 {
			return nil, errors.New("state truncated")
		}
		b = b[n:]
		if e.expires, n = binary.Varint(b); n <= 0 {
			return nil, errors.New("state truncated")
		}
		b = b[n:]
		s.serials = append(s.serials, e)
	}
	return s, nil
}

// diff compares the CRL with the state of earlier runs: the CRL number must
// go up whenever the CRL changes, and no serial may leave the CRL before its
// certificate expires.
//
// A dropped serial whose certificate is known (crl.certificates) and not yet
// expired fails crl_dropped_serial and stays in the state, so the check keeps
// failing until the entry returns or the certificate expires. A dropped
// serial of unknown expiry is a warning on the run that sees it go: CAs
// legitimately remove entries once the certificate has expired, and only
// the CA knows when that is.
func (p *crlProber) diff(ctx context.Context, c *checker, rl *parsedCRL, set []serialEntry, now time.Time) {
	st := p.env.State
	if st == nil {
		c.warn("crl_state", "no state store: the CRL number and dropped-serial checks cannot compare with earlier runs", nil)
		return
	}
	raw, err := st.GetState(ctx, p.name, crlStateKey)
	var prev *crlState
	if err == nil && raw != nil {
		prev, err = unmarshalCRLState(raw)
	}
	if err != nil {
		c.warn("crl_state", fmt.Sprintf("cannot read the previous CRL's state: %v; number and dropped-serial checks skipped this run", err), map[string]string{"error": err.Error()})
		return
	}
	for i := range set {
		if exp, ok := p.known[set[i].key]; ok {
			set[i].expires = exp.Unix()
		}
	}
	next := &crlState{number: rl.Number, thisUpdate: rl.ThisUpdate.Unix(), serials: set}
	regressed := false
	if prev != nil && rl.Number != nil {
		ev := map[string]string{"number": rl.Number.String(), "previous_number": prev.number.String(), "this_update": rfc3339(rl.ThisUpdate), "previous_this_update": rfc3339(time.Unix(prev.thisUpdate, 0))}
		switch cmp := rl.Number.Cmp(prev.number); {
		case cmp < 0:
			regressed = true
			c.fail("crl_number_increasing", fmt.Sprintf("CRL number went back from %s to %s: an old CRL is being served (RFC 5280 §5.2.3)", prev.number, rl.Number), ev)
		case cmp == 0 && rl.ThisUpdate.Unix() != prev.thisUpdate:
			c.fail("crl_number_increasing", fmt.Sprintf("CRL number %s reused for a CRL with another thisUpdate (%s, before %s)", rl.Number, FormatTime(rl.ThisUpdate), FormatTime(time.Unix(prev.thisUpdate, 0))), ev)
		case cmp == 0:
			c.pass("crl_number_increasing", "same CRL as last run (number "+rl.Number.String()+")")
		default:
			c.pass("crl_number_increasing", fmt.Sprintf("CRL number %s after %s", rl.Number, prev.number))
		}
	} else if rl.Number != nil {
		c.pass("crl_number_increasing", "first CRL seen: number "+rl.Number.String())
	}

	if prev != nil {
		var failing, unknown []serialEntry
		i := 0
		for _, old := range prev.serials {
			for i < len(set) && bytes.Compare(set[i].key[:], old.key[:]) < 0 {
				i++
			}
			if i < len(set) && set[i].key == old.key {
				continue
			}
			expires := old.expires
			if exp, ok := p.known[old.key]; ok {
				expires = exp.Unix()
			}
			switch {
			case expires == 0:
				unknown = append(unknown, old)
			case now.Unix() < expires:
				old.expires = expires
				failing = append(failing, old)
			}
		}
		switch {
		case len(failing) > 0:
			var list []string
			ev := map[string]string{"count": strconv.Itoa(len(failing))}
			for _, e := range failing[:min(len(failing), 5)] {
				list = append(list, fmt.Sprintf("%s (expires %s)", e.key, FormatTime(time.Unix(e.expires, 0))))
				ev["serial_"+e.key.String()] = "expires " + rfc3339(time.Unix(e.expires, 0)) + ", revoked " + rfc3339(time.Unix(e.revoked, 0))
			}
			if len(failing) > 5 {
				list = append(list, fmt.Sprintf("and %d more", len(failing)-5))
			}
			c.fail("crl_dropped_serial", fmt.Sprintf("%d serials left the CRL before their certificates expired: %s (BR §4.9.7: entries stay until expiry)", len(failing), strings.Join(list, ", ")), ev)
			// Carry them, so the check fails until they return or expire.
			next.serials = mergeSerials(next.serials, failing)
		case len(unknown) > 0:
			keys := make([]serialKey, 0, min(len(unknown), 5))
			for _, e := range unknown[:min(len(unknown), 5)] {
				keys = append(keys, e.key)
			}
			few := fewKeys(keys)
			if len(unknown) > 5 {
				few += fmt.Sprintf(" and %d more", len(unknown)-5)
			}
			c.warn("crl_dropped_serial", fmt.Sprintf("%d serials left the CRL: %s; their certificates' expiry is unknown, so this is a failure only if they have not expired (list them under crl.certificates to know)", len(unknown), few), map[string]string{"serials": few, "count": strconv.Itoa(len(unknown))})
		default:
			c.pass("crl_dropped_serial", fmt.Sprintf("no serial dropped since the CRL of %s", FormatTime(time.Unix(prev.thisUpdate, 0))))
		}
	} else {
		c.pass("crl_dropped_serial", "first CRL seen: nothing to compare yet")
	}

	// Keep the highest number seen: while an old CRL is served, every run
	// compares with the newest and keeps failing.
	if regressed {
		c.pass("crl_state", "state kept at the higher CRL number")
		return
	}
	if rl.Number == nil {
		if prev == nil {
			c.pass("crl_state", "nothing to remember without a CRL number")
			return
		}
		next.number, next.thisUpdate = prev.number, prev.thisUpdate
	}
	if prev != nil && prev.number.Cmp(next.number) == 0 && prev.thisUpdate == next.thisUpdate && slices.Equal(prev.serials, next.serials) {
		c.pass("crl_state", "unchanged")
		return
	}
	if err := st.PutState(ctx, p.name, crlStateKey, next.marshal()); err != nil {
		c.warn("crl_state", fmt.Sprintf("cannot save the CRL's state: %v; the next run compares with an older CRL", err), map[string]string{"error": err.Error()})
		return
	}
	c.pass("crl_state", fmt.Sprintf("remembered CRL number %s and %d serials", next.number, len(next.serials)))
}

func mergeSerials(a, b []serialEntry) []serialEntry {
	out := append(slices.Clone(a), b...)
	slices.SortFunc(out, func(x, y serialEntry) int { return bytes.Compare(x.key[:], y.key[:]) })
	return slices.CompactFunc(out, func(x, y serialEntry) bool { return x.key == y.key })
}

// crlVersion reads the version of a DER CRL before x509 does, which
// rejects v1 CRLs without saying so.
func crlVersion(der []byte) (int, error) {
	in := cryptobyte.String(der)
	var outer, tbs cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) {
		return 0, errors.New("not a DER SEQUENCE")
	}
	if !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return 0, errors.New("no tbsCertList")
	}
	if !tbs.PeekASN1Tag(cbasn1.INTEGER) {
		return 1, nil
	}
	var v int
	if !tbs.ReadASN1Integer(&v) {
		return 0, errors.New("malformed version")
	}
	return v + 1, nil
}
