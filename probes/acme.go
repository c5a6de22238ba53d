package probes

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
)

// acmeProber is the acme kind: an RFC 8555 server's directory, nonce
// endpoint and error format on every run, and optionally a deep check
// (account, order, deactivation) against a staging directory.
type acmeProber struct {
	cfg *config.ACMEProbe
	env Env
}

func newACME(p *config.Probe, env Env) (Prober, error) {
	if p.ACME == nil {
		return nil, errors.New("missing acme section")
	}
	if p.ACME.Deep != nil && p.ACME.Deep.Key == nil {
		return nil, errors.New("acme section not validated: load it with config.Load")
	}
	if env.Clock == nil {
		env.Clock = clock.Real{}
	}
	return &acmeProber{cfg: p.ACME, env: env}, nil
}

var _ Prober = (*acmeProber)(nil)

// acmeRequired are the directory fields RFC 8555 §7.1.1 makes mandatory.
var acmeRequired = []string{"newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"}

// base64url without padding, as RFC 8555 §6.5.1 wants Replay-Nonce.
var nonceRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

const acmeUserAgent = "probed"

func (a *acmeProber) Probe(ctx context.Context, r *Report) {
	roots := a.cfg.RootPool
	client, closeConns := newRunClient(ctx, r, a.env, runTransportOpts{tlsConfig: func(host string) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: host}
	}})
	defer closeConns()
	dir, ok := a.directory(ctx, r, client)
	r.Gauge("probe_acme_directory_success", "Whether the ACME directory was fetched and had every required field as an https URL.", b2f(ok))
	if dir == nil {
		return
	}
	if u, ok := dir.urls["newNonce"]; ok {
		r.Gauge("probe_acme_nonce_success", "Whether HEAD and GET on newNonce answered 200 and 204 with a base64url Replay-Nonce.", b2f(a.nonce(ctx, r, client, u)))
	}
	if u, ok := dir.urls["newAccount"]; ok {
		a.errorFormat(ctx, r, client, u)
	}
	if a.cfg.Deep != nil {
		ok := a.deep(ctx, r, client)
		r.Gauge("probe_acme_deep_check_success", "Whether the deep check (account, order, deactivation) succeeded.", b2f(ok))
	}
}

// acmeDirectory is what the checks keep of a directory: the required and
// optional endpoint URLs that parsed.
type acmeDirectory struct {
	urls map[string]string
}

// get sends one request with the probe's headers and reads a bounded body.
func (a *acmeProber) get(ctx context.Context, client *http.Client, method, u string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", acmeUserAgent)
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, tooLarge, err := readBody(resp.Body, resp.ContentLength, a.cfg.MaxBodyBytes)
	if err == nil && tooLarge {
		err = fmt.Errorf("%w (max_body_bytes %d)", errBodyTooLarge, a.cfg.MaxBodyBytes)
	}
	return resp, body, err
}

// directory fetches and checks the directory. It returns nil when nothing
// else can be checked, and ok when every directory check held.
func (a *acmeProber) directory(ctx context.Context, r *Report, client *http.Client) (*acmeDirectory, bool) {
	var ph Phases
	resp, body, err := a.get(httptrace.WithClientTrace(ctx, ph.Trace()), client, http.MethodGet, a.cfg.Directory)
	u := redactURL(a.cfg.Directory) // as shown in messages and evidence
	ph.Record(r, time.Now())
	if resp == nil {
		r.Fail("acme_directory", fmt.Sprintf("GET %s: %s", u, describeNetErr(ctx, err)), map[string]string{"url": u, "error": err.Error()})
		return nil, false
	}
	gaugeHTTPStatus(r, resp.StatusCode)
	if resp.TLS != nil {
		if len(resp.TLS.PeerCertificates) > 0 {
			exp, _ := chainExpiry(resp.TLS.PeerCertificates, resp.TLS.VerifiedChains)
			gaugeCertExpiry(r, exp)
		}
	}
	ev := map[string]string{"url": u, "status": strconv.Itoa(resp.StatusCode)}
	switch {
	case resp.StatusCode != http.StatusOK:
		where := ""
		if loc := resp.Header.Get("Location"); loc != "" {
			where = " (Location: " + loc + ")"
		}
		r.Fail("acme_directory", fmt.Sprintf("GET %s: HTTP %d%s, want 200 (body starts %q)", u, resp.StatusCode, where, snippet(body)), ev)
		return nil, false
	case err != nil:
		r.Fail("acme_directory", fmt.Sprintf("GET %s: reading the body: %s", u, describeNetErr(ctx, err)), ev)
		return nil, false
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		ev["body_start"] = snippet(body)
		r.Fail("acme_directory", fmt.Sprintf("directory is not a JSON object: %v (body starts %q)", err, snippet(body)), ev)
		return nil, false
	}
	r.Pass("acme_directory", fmt.Sprintf("HTTP 200, %d fields", len(doc)))

	dir := &acmeDirectory{urls: map[string]string{}}
	var missing, notHTTPS []string
	for _, name := range acmeRequired {
		raw, ok := doc[name]
		var s string
		if !ok || json.Unmarshal(raw, &s) != nil || s == "" {
			missing = append(missing, name)
			continue
		}
		if pu, err := url.Parse(s); err != nil || pu.Scheme != "https" || pu.Host == "" {
			notHTTPS = append(notHTTPS, fmt.Sprintf("%s=%q", name, redactURL(s)))
			continue
		}
		dir.urls[name] = s
	}
	if len(missing) > 0 {
		r.Fail("acme_directory_fields", fmt.Sprintf("directory lacks %s (RFC 8555 §7.1.1 requires %s)", strings.Join(missing, ", "), strings.Join(acmeRequired, ", ")), map[string]string{"missing": strings.Join(missing, ",")})
	} else {
		r.Pass("acme_directory_fields", "all of "+strings.Join(acmeRequired, ", ")+" present")
	}
	if len(notHTTPS) > 0 {
		r.Fail("acme_directory_https", fmt.Sprintf("directory URLs must be absolute https URLs (RFC 8555 §6.1): %s", strings.Join(notHTTPS, ", ")), map[string]string{"urls": strings.Join(notHTTPS, " ")})
	} else {
		r.Pass("acme_directory_https", "every endpoint is an absolute https URL")
	}
	ok := len(missing) == 0 && len(notHTTPS) == 0
	a.meta(r, doc)
	return dir, ok
}

// meta records meta (terms, EAB, website, CAA identities, profiles) and ARI,
// and checks them against expect_eab, expect_meta and expect_ari.
func (a *acmeProber) meta(r *Report, doc map[string]json.RawMessage) {
	var meta map[string]json.RawMessage
	if raw, ok := doc["meta"]; ok {
		_ = json.Unmarshal(raw, &meta)
	}
	var eab bool
	if raw, ok := meta["externalAccountRequired"]; ok {
		_ = json.Unmarshal(raw, &eab)
	}
	var tos string
	if raw, ok := meta["termsOfService"]; ok {
		_ = json.Unmarshal(raw, &tos)
	}
	var ari string
	if raw, ok := doc["renewalInfo"]; ok {
		_ = json.Unmarshal(raw, &ari)
	}
	r.Gauge("probe_acme_eab_required", "Whether the directory's meta says externalAccountRequired.", b2f(eab))
	r.Gauge("probe_acme_ari_supported", "Whether the directory advertises renewalInfo (ACME Renewal Information, RFC 9773).", b2f(ari != ""))
	keys := slices.Sorted(maps.Keys(meta))
	desc := fmt.Sprintf("meta keys [%s], externalAccountRequired=%v", strings.Join(keys, " "), eab)
	if tos != "" {
		desc += ", termsOfService " + tos
	}
	if ari != "" {
		desc += ", renewalInfo " + ari
	}
	var missing []string
	for _, k := range a.cfg.ExpectMeta {
		if _, ok := meta[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		r.Fail("acme_meta", fmt.Sprintf("directory meta lacks %s (expect_meta); has %s", strings.Join(missing, ", "), desc), map[string]string{"missing": strings.Join(missing, ",")})
	} else {
		r.Pass("acme_meta", desc)
	}
	if want := a.cfg.ExpectEAB; want != nil {
		if eab == *want {
			r.Pass("acme_eab", fmt.Sprintf("externalAccountRequired=%v as expected", eab))
		} else {
			r.Fail("acme_eab", fmt.Sprintf("externalAccountRequired is %v, expect_eab says %v: account sign-up policy changed", eab, *want), map[string]string{"got": strconv.FormatBool(eab)})
		}
	}
	if want := a.cfg.ExpectARI; want != nil {
		if (ari != "") == *want {
			r.Pass("acme_ari", fmt.Sprintf("renewalInfo advertised=%v as expected", ari != ""))
		} else {
			r.Fail("acme_ari", fmt.Sprintf("renewalInfo advertised=%v, expect_ari says %v", ari != "", *want), map[string]string{"renewal_info": ari})
		}
	}
}

// nonce checks HEAD (200) and GET (204) on newNonce, their Replay-Nonce and
// Cache-Control; it reports whether the critical parts held.
func (a *acmeProber) nonce(ctx context.Context, r *Report, client *http.Client, u string) bool {
	var statusProblems, nonceProblems, cacheProblems []string
	seen := map[string]bool{}
	for _, m := range []struct {
		method string
		want   int
	}{{http.MethodHead, http.StatusOK}, {http.MethodGet, http.StatusNoContent}} {
		resp, _, err := a.get(ctx, client, m.method, u)
		if resp == nil {
			r.Fail("acme_nonce_status", fmt.Sprintf("%s %s: %s", m.method, u, describeNetErr(ctx, err)), map[string]string{"url": u, "error": err.Error()})
			return false
		}
		if resp.StatusCode != m.want {
			statusProblems = append(statusProblems, fmt.Sprintf("%s answered HTTP %d, want %d", m.method, resp.StatusCode, m.want))
		}
		n := resp.Header.Get("Replay-Nonce")
		switch {
		case n == "":
			nonceProblems = append(nonceProblems, m.method+" carried no Replay-Nonce")
		case !nonceRE.MatchString(n):
			nonceProblems = append(nonceProblems, fmt.Sprintf("%s Replay-Nonce %q is not base64url (RFC 8555 §6.5.1)", m.method, snippet([]byte(n))))
		case seen[n]:
			nonceProblems = append(nonceProblems, fmt.Sprintf("%s returned the nonce already handed out: nonces must not repeat", m.method))
		}
		seen[n] = true
		if cc := resp.Header.Get("Cache-Control"); !hasDirective(cc, "no-store") {
			cacheProblems = append(cacheProblems, fmt.Sprintf("%s Cache-Control is %q", m.method, cc))
		}
	}
	if len(statusProblems) > 0 {
		r.Fail("acme_nonce_status", "newNonce: "+strings.Join(statusProblems, "; ")+" (RFC 8555 §7.2)", map[string]string{"url": u})
	} else {
		r.Pass("acme_nonce_status", "HEAD 200, GET 204")
	}
	if len(nonceProblems) > 0 {
		r.Fail("acme_nonce_header", "newNonce: "+strings.Join(nonceProblems, "; "), map[string]string{"url": u})
	} else {
		r.Pass("acme_nonce_header", "fresh base64url Replay-Nonce on HEAD and GET")
	}
	if len(cacheProblems) > 0 {
		r.Warn("acme_nonce_cache", "newNonce: "+strings.Join(cacheProblems, "; ")+", want no-store (RFC 8555 §7.2): a cache could hand out used nonces", map[string]string{"url": u})
	} else {
		r.Pass("acme_nonce_cache", "Cache-Control no-store")
	}
	return len(statusProblems) == 0 && len(nonceProblems) == 0
}

func hasDirective(cc, want string) bool {
	for _, d := range strings.Split(cc, ",") {
		if strings.EqualFold(strings.TrimSpace(d), want) {
			return true
		}
	}
	return false
}

// errorFormat posts an unsigned body to newAccount, which every server
// rejects before touching state, and checks the error is problem+json.
func (a *acmeProber) errorFormat(ctx context.Context, r *Report, client *http.Client, u string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader("{}"))
	if err != nil {
		r.Fail("acme_error_format", fmt.Sprintf("cannot build request: %v", err), nil)
		return
	}
	req.Header.Set("User-Agent", acmeUserAgent)
	req.Header.Set("Content-Type", "application/jose+json")
	resp, err := client.Do(req)
	if err != nil {
		r.Fail("acme_error_format", fmt.Sprintf("POST %s: %s", u, describeNetErr(ctx, err)), map[string]string{"url": u, "error": err.Error()})
		return
	}
	defer resp.Body.Close()
	body, _, _ := readBody(resp.Body, resp.ContentLength, a.cfg.MaxBodyBytes)
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	var prob struct {
		Type   string `json:"type"`
		Detail string `json:"detail"`
	}
	jsonErr := json.Unmarshal(body, &prob)
	ev := map[string]string{"url": u, "status": strconv.Itoa(resp.StatusCode), "content_type": ct}
	switch {
	case resp.StatusCode < 400 || resp.StatusCode > 499:
		r.Fail("acme_error_format", fmt.Sprintf("an unsigned POST to newAccount got HTTP %d, want a 4xx problem", resp.StatusCode), ev)
	case mt != "application/problem+json":
		r.Fail("acme_error_format", fmt.Sprintf("error answered with Content-Type %q, want application/problem+json (RFC 8555 §6.7)", ct), ev)
	case jsonErr != nil || prob.Type == "":
		ev["body_start"] = snippet(body)
		r.Fail("acme_error_format", fmt.Sprintf("problem document has no type (body starts %q)", snippet(body)), ev)
	default:
		r.Pass("acme_error_format", fmt.Sprintf("HTTP %d problem+json %s", resp.StatusCode, prob.Type))
	}
}

const badNonceType = "urn:ietf:params:acme:error:badNonce"

// retryBadNonce runs f, and once more if the server said badNonce (RFC 8555
// §6.5: clients should retry with the fresh nonce). It reports the retry.
func retryBadNonce(f func() error) (bool, error) {
	err := f()
	var ae *acme.Error
	if errors.As(err, &ae) && ae.ProblemType == badNonceType {
		return true, f()
	}
	return false, err
}

// deep creates (or finds) the account, orders the identifier and
// deactivates the order's authorizations.
func (a *acmeProber) deep(ctx context.Context, r *Report, hc *http.Client) bool {
	d := a.cfg.Deep
	// A new Client per run: acme.Client caches the directory, and with the
	// default RetryBackoff it retries 5xx and 429 for a minute, hiding
	// latency and outages from the probe.
	cl := &acme.Client{
		Key:          d.Key,
		HTTPClient:   limitBodies(hc, a.cfg.MaxBodyBytes),
		DirectoryURL: a.cfg.Directory,
		UserAgent:    acmeUserAgent,
		RetryBackoff: func(int, *http.Request, *http.Response) time.Duration { return 0 },
	}
	note := func(retried bool) string {
		if retried {
			return " (retried once after badNonce)"
		}
		return ""
	}
	acct := &acme.Account{}
	if d.Contact != "" {
		acct.Contact = []string{d.Contact}
	}
	if d.EABKeyID != "" {
		acct.ExternalAccountBinding = &acme.ExternalAccountBinding{KID: d.EABKeyID, Key: d.EABHMAC}
	}
	existed := false
	retried, err := retryBadNonce(func() error {
		_, err := cl.Register(ctx, acct, acme.AcceptTOS)
		if errors.Is(err, acme.ErrAccountAlreadyExists) {
			existed = true
			return nil
		}
		return err
	})
	if err != nil {
		r.Fail("acme_deep_account", "newAccount failed"+note(retried)+": "+describeACMEErr(ctx, err), acmeEvidence(err))
		return false
	}
	what := "account created"
	if existed {
		what = "existing account found"
	}
	r.Pass("acme_deep_account", fmt.Sprintf("%s: %s%s", what, cl.KID, note(retried)))

	var order *acme.Order
	retried, err = retryBadNonce(func() error {
		var err error
		order, err = cl.AuthorizeOrder(ctx, acme.DomainIDs(d.Identifier))
		return err
	})
	if err != nil {
		r.Fail("acme_deep_order", fmt.Sprintf("newOrder for %s failed%s: %s", d.Identifier, note(retried), describeACMEErr(ctx, err)), acmeEvidence(err))
		return false
	}
	if len(order.AuthzURLs) == 0 {
		r.Fail("acme_deep_order", fmt.Sprintf("order %s for %s lists no authorizations", order.URI, d.Identifier), map[string]string{"order": order.URI})
		return false
	}
	r.Pass("acme_deep_order", fmt.Sprintf("order %s (%s) with %d authorization(s)%s", order.URI, order.Status, len(order.AuthzURLs), note(retried)))

	var failed []string
	anyRetry := false
	for _, az := range order.AuthzURLs {
		retried, err := retryBadNonce(func() error { return cl.RevokeAuthorization(ctx, az) })
		anyRetry = anyRetry || retried
		if err != nil {
			failed = append(failed, az+": "+describeACMEErr(ctx, err))
		}
	}
	if len(failed) > 0 {
		r.Fail("acme_deep_deactivate", "deactivating authorizations failed"+note(anyRetry)+": "+strings.Join(failed, "; "), map[string]string{"order": order.URI})
		return false
	}
	r.Pass("acme_deep_deactivate", fmt.Sprintf("%d authorization(s) deactivated%s", len(order.AuthzURLs), note(anyRetry)))
	return true
}

// describeACMEErr names the problem type and detail an ACME server sent.
func describeACMEErr(ctx context.Context, err error) string {
	var ae *acme.Error
	if errors.As(err, &ae) {
		return fmt.Sprintf("HTTP %d %s: %s", ae.StatusCode, ae.ProblemType, ae.Detail)
	}
	return describeNetErr(ctx, err)
}

func acmeEvidence(err error) map[string]string {
	ev := map[string]string{"error": err.Error()}
	var ae *acme.Error
	if errors.As(err, &ae) {
		ev["status"] = strconv.Itoa(ae.StatusCode)
		ev["problem_type"] = ae.ProblemType
		ev["detail"] = ae.Detail
	}
	return ev
}
