package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/probed/probed/config"
)

// httpProber is the http kind: an API or web page checked for status, body,
// headers, latency phases and its TLS chain.
type httpProber struct {
	name string
	cfg  *config.HTTPProbe
	env  Env
}

func newHTTP(p *config.Probe, env Env) (Prober, error) {
	if p.HTTP == nil {
		return nil, errors.New("missing http section")
	}
	return &httpProber{name: p.Name, cfg: p.HTTP, env: env}, nil
}

var _ Prober = (*httpProber)(nil)

// maxRedirects is how many redirects a probe follows before it fails.
const maxRedirects = 10

// RedirectError is why a client made by NewHTTPClient refused a redirect.
type RedirectError struct {
	From, To string // URLs
	Reason   string
}

// Error says which redirect was refused and why.
func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirect from %s to %s refused: %s", e.From, e.To, e.Reason)
}

// redactURL is raw with any password hidden (url.URL.Redacted), for check
// messages and evidence. Config refuses credentials in probe URLs; this keeps
// one that slipped through (a certificate's AIA, a redirect) out of history.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

func checkRedirect(follow bool) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		from := via[len(via)-1].URL.Redacted()
		if len(via) > maxRedirects {
			return &RedirectError{From: from, To: req.URL.Redacted(), Reason: fmt.Sprintf("more than %d redirects", maxRedirects)}
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return &RedirectError{From: from, To: req.URL.Redacted(), Reason: fmt.Sprintf("scheme %q: only http and https are followed", req.URL.Scheme)}
		}
		return nil
	}
}

// Phases are the latency phases of one HTTP exchange, as httptrace sees them.
// The zero value is ready; it is safe for the transport's goroutines.
type Phases struct {
	mu                                                                                        sync.Mutex
	start, dnsStart, dnsDone, connStart, connDone, tlsStart, tlsDone, wroteRequest, firstByte time.Time
}

func (ph *Phases) set(t *time.Time) {
	ph.mu.Lock()
	*t = time.Now()
	ph.mu.Unlock()
}

// Trace returns a ClientTrace that fills the phases.
func (ph *Phases) Trace() *httptrace.ClientTrace {
	ph.set(&ph.start)
	return &httptrace.ClientTrace{
		DNSStart:             func(httptrace.DNSStartInfo) { ph.set(&ph.dnsStart) },
		DNSDone:              func(httptrace.DNSDoneInfo) { ph.set(&ph.dnsDone) },
		ConnectStart:         func(string, string) { ph.set(&ph.connStart) },
		ConnectDone:          func(string, string, error) { ph.set(&ph.connDone) },
		TLSHandshakeStart:    func() { ph.set(&ph.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { ph.set(&ph.tlsDone) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { ph.set(&ph.wroteRequest) },
		GotFirstResponseByte: func() { ph.set(&ph.firstByte) },
	}
}

// Record exports probe_http_duration_seconds{phase} for the phases seen (of
// the last hop when redirects were followed); end is when the body was read.
func (ph *Phases) Record(r *Report, end time.Time) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	gauge := func(phase string, from, to time.Time) {
		v := 0.0
		if !from.IsZero() && !to.IsZero() && to.After(from) {
			v = to.Sub(from).Seconds()
		}
		r.Gauge("probe_http_duration_seconds", "Duration of an HTTP exchange by phase.", v, Label{"phase", phase})
	}
	gauge("resolve", ph.dnsStart, ph.dnsDone)
	gauge("connect", ph.connStart, ph.connDone)
	gauge("tls", ph.tlsStart, ph.tlsDone)
	gauge("processing", ph.wroteRequest, ph.firstByte)
	gauge("transfer", ph.firstByte, end)
}

// Stalled says in which phase an exchange was when it was cut, for the
// message of a timed-out run: "while connecting to the server", ...
func (ph *Phases) Stalled() string {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	since := func(t time.Time) string { return Ago(time.Since(t)) }
	switch {
	case !ph.firstByte.IsZero():
		return fmt.Sprintf("while reading the body (first byte %s ago)", since(ph.firstByte))
	case !ph.wroteRequest.IsZero():
		return fmt.Sprintf("waiting for the response headers (request sent %s ago)", since(ph.wroteRequest))
	case !ph.tlsStart.IsZero() && ph.tlsDone.IsZero():
		return "during the TLS handshake"
	case !ph.connStart.IsZero() && ph.connDone.IsZero():
		return "while connecting to the server"
	case !ph.dnsStart.IsZero() && ph.dnsDone.IsZero():
		return "while resolving the host name"
	case !ph.connDone.IsZero():
		return "while sending the request"
	}
	return "before connecting"
}

// ReadLimited reads at most limit bytes, growing with what arrives;
// tooLarge is true when the body had more.
func ReadLimited(body io.Reader, limit int64) (data []byte, tooLarge bool, err error) {
	return readBody(body, -1, limit)
}

// tlsConfig is the configuration of one handshake with serverName (or
// the probe's server_name): verification is done by v, which names the
// check that failed and still refuses the connection when one does, before
// the request (and any secret header in it) is sent.
func (h *httpProber) tlsConfig(v *tlsVerifier) func(host string) *tls.Config {
	return func(host string) *tls.Config {
		serverName := h.cfg.ServerName
		if serverName == "" {
			serverName = host
		}
		return &tls.Config{
			ServerName:         serverName,
			MinVersion:         minVersion(h.cfg.MinTLSVersion),
			InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
			VerifyConnection:   func(cs tls.ConnectionState) error { return v.verify(cs, serverName) },
		}
	}
}

// minVersion lets the handshake go below Go's default (TLS 1.2) only when
// the operator asked to accept an older version.
func minVersion(min string) uint16 {
	switch min {
	case "1.0":
		return tls.VersionTLS10
	case "1.1":
		return tls.VersionTLS11
	}
	return 0
}

// Probe runs one exchange and its checks.
func (h *httpProber) Probe(ctx context.Context, r *Report) {
	cfg := h.cfg
	v := &tlsVerifier{cfg: cfg, r: r}
	client, closeConns := newRunClient(ctx, r, h.env, runTransportOpts{tlsConfig: h.tlsConfig(v), follow: cfg.Redirects == "follow", gzip: true})
	defer closeConns()
	var body io.Reader
	if cfg.Body != "" {
		body = strings.NewReader(cfg.Body)
	}
	var ph Phases
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, ph.Trace()), cfg.Method, cfg.URL, body)
	if err != nil {
		r.internalFailure(InternalRequest, fmt.Errorf("build the request for %s: %w", redactURL(cfg.URL), err))
		return
	}
	req.Header.Set("User-Agent", "probed")
	for k, v := range cfg.Headers {
		req.Header.Set(k, v)
	}
	for k, vs := range cfg.SecretHeader {
		req.Header[k] = vs
	}
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		h.requestFailed(ctx, r, v, &ph, err)
		return
	}
	defer resp.Body.Close()
	data, tooLarge, readErr := readBody(resp.Body, resp.ContentLength, cfg.MaxBodyBytes)
	end := time.Now()
	ph.Record(r, end)
	r.Pass("http_connect", fmt.Sprintf("%s %s answered", cfg.Method, resp.Request.URL.Redacted()))
	gaugeHTTPStatus(r, resp.StatusCode)
	gaugeBodyBytes(r, len(data))
	hops := redirects(resp)
	r.Gauge("probe_http_redirects", "Redirects followed.", float64(hops))
	if cfg.Redirects == "follow" && hops > 0 {
		r.Pass("http_redirect", fmt.Sprintf("followed %d redirect(s) to %s", hops, resp.Request.URL.Redacted()))
	}

	h.checkStatus(r, resp, data)
	switch {
	case tooLarge:
		r.Fail("http_body_size", fmt.Sprintf("the body of %s is larger than the %d-byte limit (max_body_bytes); raise the limit if the page grew on purpose",
			resp.Request.URL.Redacted(), cfg.MaxBodyBytes), map[string]string{"limit": strconv.FormatInt(cfg.MaxBodyBytes, 10), "content_length": strconv.FormatInt(resp.ContentLength, 10)})
	case readErr != nil:
		msg := describeNetErr(ctx, readErr)
		if ctx.Err() != nil {
			msg += " " + ph.Stalled()
		}
		r.Fail("http_body_read", fmt.Sprintf("reading the body of %s failed after %d bytes: %s", resp.Request.URL.Redacted(), len(data), msg), map[string]string{"error": readErr.Error()})
	default:
		r.Pass("http_body_size", fmt.Sprintf("%d bytes", len(data)))
	}
	for _, re := range cfg.BodyMatchesRE {
		if re.Match(data) {
			r.Pass("http_body_matches", "body matches "+re.String())
		} else {
			r.Fail("http_body_matches", fmt.Sprintf("the body (%d bytes, starting %q) does not match %s", len(data), snippet(data), re),
				map[string]string{"regexp": re.String(), "body_start": snippet(data)})
		}
	}
	for _, re := range cfg.BodyNotMatchesRE {
		if loc := re.FindIndex(data); loc != nil {
			r.Fail("http_body_not_matches", fmt.Sprintf("the body matches %s, which it must not: %q at byte %d", re, snippet(data[loc[0]:loc[1]]), loc[0]),
				map[string]string{"regexp": re.String(), "match": snippet(data[loc[0]:loc[1]])})
		} else {
			r.Pass("http_body_not_matches", "body does not match "+re.String())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.HeaderMatchesRE)) {
		re := cfg.HeaderMatchesRE[name]
		vals, present := resp.Header[http.CanonicalHeaderKey(name)]
		v := strings.Join(vals, ", ")
		switch {
		case !present:
			r.Fail("http_header_matches", fmt.Sprintf("the response has no %s header; want one matching %s", name, re), map[string]string{"header": name})
		case re.MatchString(v):
			r.Pass("http_header_matches", fmt.Sprintf("header %s matches %s", name, re))
		default:
			r.Fail("http_header_matches", fmt.Sprintf("header %s is %q, want a match for %s", name, v, re), map[string]string{"header": name, "value": v})
		}
	}
	if len(cfg.JSON) > 0 {
		checkJSON(r, data, cfg.JSON)
	}
}

// requestFailed reports a request that got no response: a TLS check that
// refused the server (already recorded by the verifier), a refused
// redirect, a timeout in a named phase, or another transport error.
func (h *httpProber) requestFailed(ctx context.Context, r *Report, v *tlsVerifier, ph *Phases, err error) {
	cfg := h.cfg
	var refused *tlsRefusal
	var redirect *RedirectError
	switch {
	case errors.As(err, &refused):
		// The tls_* checks say what was wrong with the server's certificate.
	case errors.As(err, &redirect):
		r.Fail("http_redirect", redirect.Error(), map[string]string{"from": redirect.From, "to": redirect.To})
	case ctx.Err() != nil:
		r.Fail("http_connect", fmt.Sprintf("%s %s: %s %s", cfg.Method, redactURL(cfg.URL), describeNetErr(ctx, err), ph.Stalled()),
			map[string]string{"url": redactURL(cfg.URL), "error": err.Error()})
	default:
		r.Fail("http_connect", fmt.Sprintf("%s %s: %s", cfg.Method, redactURL(cfg.URL), describeNetErr(ctx, err)),
			map[string]string{"url": redactURL(cfg.URL), "error": err.Error()})
	}
}

func (h *httpProber) checkStatus(r *Report, resp *http.Response, data []byte) {
	accepted := h.cfg.Status
	code := resp.StatusCode
	if slices.Contains(accepted, code) || (len(accepted) == 0 && code >= 200 && code < 300) {
		r.Pass("http_status", fmt.Sprintf("status %d", code))
		return
	}
	want := "2xx"
	if len(accepted) > 0 {
		parts := make([]string, len(accepted))
		for i, a := range accepted {
			parts[i] = strconv.Itoa(a)
		}
		want = strings.Join(parts, " or ")
	}
	msg := fmt.Sprintf("%s %s answered %d %s, want %s", h.cfg.Method, resp.Request.URL.Redacted(), code, http.StatusText(code), want)
	if loc := resp.Header.Get("Location"); loc != "" && code >= 300 && code < 400 {
		msg += fmt.Sprintf(" (redirect to %s not followed: redirects is %s)", loc, h.cfg.Redirects)
	} else if len(data) > 0 {
		msg += fmt.Sprintf(" (body starts %q)", snippet(data))
	}
	r.Fail("http_status", msg, map[string]string{"status": strconv.Itoa(code), "url": resp.Request.URL.Redacted(), "body_start": snippet(data)})
}

func redirects(resp *http.Response) int {
	n := 0
	for req := resp.Request; req != nil && req.Response != nil; req = req.Response.Request {
		n++
	}
	return n
}

func checkJSON(r *Report, data []byte, asserts []config.JSONAssertion) {
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		r.Fail("http_json", fmt.Sprintf("the body is not JSON (%v); it starts %q", err, snippet(data)), map[string]string{"body_start": snippet(data)})
		return
	}
	for _, a := range asserts {
		got, ok := jsonPath(doc, a.Path)
		switch {
		case !ok:
			r.Fail("http_json", fmt.Sprintf("JSON field %s is missing", a.Path), map[string]string{"path": a.Path, "want": a.Equal})
		case got != a.Equal:
			r.Fail("http_json", fmt.Sprintf("JSON field %s is %q, want %q", a.Path, got, a.Equal), map[string]string{"path": a.Path, "got": got, "want": a.Equal})
		default:
			r.Pass("http_json", fmt.Sprintf("JSON field %s is %q", a.Path, got))
		}
	}
}

// jsonPath follows a dotted path (a.b.0.c) and returns the value as text.
func jsonPath(doc any, path string) (string, bool) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return "", false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return "", false
			}
			cur = v[i]
		default:
			return "", false
		}
	}
	switch v := cur.(type) {
	case string:
		return v, true
	case nil:
		return "null", true
	case float64, bool:
		return fmt.Sprint(v), true
	default:
		b, _ := json.Marshal(v)
		return string(b), true
	}
}

var tlsVersions = map[uint16]string{tls.VersionTLS10: "1.0", tls.VersionTLS11: "1.1", tls.VersionTLS12: "1.2", tls.VersionTLS13: "1.3"}

// tlsRefusal is the handshake error when a tls_* check refused the server.
type tlsRefusal struct{ checks []string }

func (e *tlsRefusal) Error() string {
	return "TLS server refused by probed: " + strings.Join(e.checks, ", ") + " failed"
}

// tlsVerifier checks each TLS handshake of a run: the chain to the trusted
// roots (tls_chain), the host name (tls_hostname), the earliest expiry
// (tls_cert_expiry and probe_tls_cert_expiry_timestamp_seconds) and the
// version (tls_version). Go's own verification would stop at the first
// problem with a terse error; this names each check and says what to do.
type tlsVerifier struct {
	cfg *config.HTTPProbe
	r   *Report
}

func (v *tlsVerifier) verify(cs tls.ConnectionState, serverName string) error {
	r, cfg := v.r, v.cfg
	now := r.Now()
	version := tlsVersions[cs.Version]
	if version == "" {
		version = fmt.Sprintf("0x%04x", cs.Version)
	}
	r.Gauge("probe_tls_version_info", "TLS version of the last connection; always 1.", 1, Label{"version", version})
	if cfg.MinTLSVersion != "" {
		if version < cfg.MinTLSVersion {
			r.Fail("tls_version", fmt.Sprintf("%s negotiated TLS %s, below the minimum %s (min_tls_version)", serverName, version, cfg.MinTLSVersion),
				map[string]string{"version": version, "min": cfg.MinTLSVersion})
		} else {
			r.Pass("tls_version", "TLS "+version)
		}
	}
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		r.Fail("tls_chain", fmt.Sprintf("%s presented no certificate", serverName), nil)
		return &tlsRefusal{checks: []string{"tls_chain"}}
	}
	leaf := certs[0]
	var failed []string
	var chains [][]*x509.Certificate
	if !cfg.InsecureSkipVerify {
		var err error
		chains, err = verifyChain(certs, cfg.Roots, now)
		if err != nil {
			r.Fail("tls_chain", chainMessage(serverName, certs, cfg, now, err), map[string]string{"subject": leaf.Subject.String(), "issuer": leaf.Issuer.String(), "error": err.Error()})
			failed = append(failed, "tls_chain")
		} else {
			root := chains[0][len(chains[0])-1]
			r.Pass("tls_chain", fmt.Sprintf("chain verifies to %q", root.Subject.String()))
		}
		if err := leaf.VerifyHostname(serverName); err != nil {
			r.Fail("tls_hostname", hostnameMessage(serverName, leaf), map[string]string{"host": serverName, "dns_names": strings.Join(leaf.DNSNames, ","), "subject": leaf.Subject.String()})
			failed = append(failed, "tls_hostname")
		} else {
			r.Pass("tls_hostname", fmt.Sprintf("certificate valid for %s", serverName))
		}
	}
	expiry, subject := chainExpiry(certs, chains)
	gaugeCertExpiry(r, expiry)
	evidence := map[string]string{"not_after": expiry.UTC().Format(time.RFC3339), "subject": subject}
	switch left := expiry.Sub(now); {
	case left <= 0:
		r.Fail("tls_cert_expiry", fmt.Sprintf("certificate %q presented by %s expired %s ago (%s): renew it and deploy the new chain", subject, serverName, Ago(-left), FormatTime(expiry)), evidence)
		if !cfg.InsecureSkipVerify {
			failed = append(failed, "tls_cert_expiry")
		}
	case left < cfg.CertExpiryWarning.D():
		r.Warn("tls_cert_expiry", fmt.Sprintf("certificate %q presented by %s expires in %s (%s), within the %s warning window (cert_expiry_warning)", subject, serverName, Ago(left), FormatTime(expiry), cfg.CertExpiryWarning), evidence)
	default:
		r.Pass("tls_cert_expiry", fmt.Sprintf("earliest expiry %s (in %s)", FormatTime(expiry), Ago(left)))
	}
	if len(failed) > 0 {
		return &tlsRefusal{checks: failed}
	}
	return nil
}

// verifyChain verifies the presented certificates against roots (the
// system's when nil) at now. An expired certificate is judged by
// tls_cert_expiry alone: if the chain verifies apart from expiry, it
// verifies here, so an operator sees one cause, not two.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, now time.Time) ([][]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	chains, err := certs[0].Verify(opts)
	first := err
	for range 4 {
		var inv x509.CertificateInvalidError
		if err == nil || !errors.As(err, &inv) || inv.Reason != x509.Expired || !opts.CurrentTime.After(inv.Cert.NotAfter) {
			break
		}
		opts.CurrentTime = inv.Cert.NotAfter.Add(-time.Second)
		chains, err = certs[0].Verify(opts)
	}
	var inv x509.CertificateInvalidError
	switch {
	case err != nil && errors.As(err, &inv) && inv.Reason == x509.Expired:
		// Moving the clock back made another certificate not yet valid:
		// the chain cannot be judged apart from expiry.
		return nil, first
	case err != nil:
		// Not expiry alone: report what else is wrong (expiry has its check).
		return nil, err
	}
	return chains, nil
}

// chainExpiry is the earliest NotAfter of the verified chain that lasts
// longest (a cross-signed path that expired does not count when another
// verifies), or of the presented certificates when nothing verified.
func chainExpiry(presented []*x509.Certificate, chains [][]*x509.Certificate) (time.Time, string) {
	earliest := func(cs []*x509.Certificate) (t time.Time, subject string) {
		for _, c := range cs {
			if t.IsZero() || c.NotAfter.Before(t) {
				t, subject = c.NotAfter, c.Subject.String()
			}
		}
		return t, subject
	}
	if len(chains) == 0 {
		return earliest(presented)
	}
	var best time.Time
	var subject string
	for _, ch := range chains {
		if t, s := earliest(ch); t.After(best) {
			best, subject = t, s
		}
	}
	return best, subject
}

func chainMessage(serverName string, certs []*x509.Certificate, cfg *config.HTTPProbe, now time.Time, err error) string {
	leaf := certs[0]
	var unknown x509.UnknownAuthorityError
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		issuer := leaf.Issuer.String()
		if unknown.Cert != nil {
			issuer = unknown.Cert.Issuer.String()
		}
		if cfg.CAFile != "" {
			return fmt.Sprintf("%s's certificate %q chains to %q, which is not in ca_file %s: the server uses another CA, or ca_file is out of date",
				serverName, leaf.Subject.String(), issuer, cfg.CAFile)
		}
		return fmt.Sprintf("%s's certificate %q chains to %q, which is not in the system's trusted roots: set ca_file to trust a private CA, or the server is missing an intermediate (it sent %d certificate(s))",
			serverName, leaf.Subject.String(), issuer, len(certs))
	case errors.As(err, &inv) && inv.Reason == x509.Expired && now.Before(inv.Cert.NotBefore):
		return fmt.Sprintf("certificate %q is not valid yet (from %s): the server's certificate is too new or this machine's clock is behind",
			inv.Cert.Subject.String(), FormatTime(inv.Cert.NotBefore))
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return fmt.Sprintf("certificate %q is not for TLS servers (its extended key usage lacks serverAuth)", inv.Cert.Subject.String())
	}
	return fmt.Sprintf("%s's certificate chain does not verify: %v", serverName, err)
}

func hostnameMessage(serverName string, leaf *x509.Certificate) string {
	var names []string
	names = append(names, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return fmt.Sprintf("certificate %q has no subject alternative names, so it is valid for no host, not for %s", leaf.Subject.String(), serverName)
	}
	return fmt.Sprintf("certificate %q is valid for %s, not for %s: the server presents another site's certificate (or set server_name)",
		leaf.Subject.String(), strings.Join(names, ", "), serverName)
}

// describeNetErr turns transport errors into what an operator can act on,
// naming the TLS check that failed when that is the cause.
func describeNetErr(ctx context.Context, err error) string {
	var certErr *tls.CertificateVerificationError
	var hostErr x509HostnameError
	var unknown x509.UnknownAuthorityError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timed out: no answer within the probe's timeout (" + err.Error() + ")"
	case ctx.Err() != nil:
		return "canceled (probed is stopping or the probe was removed): " + err.Error()
	case errors.As(err, &hostErr):
		return "TLS hostname mismatch: " + err.Error()
	case errors.As(err, &unknown):
		return "TLS certificate not trusted (issued by an unknown authority: set the probe's CA file to trust a private CA): " + err.Error()
	case errors.As(err, &certErr):
		return "TLS certificate not trusted: " + err.Error()
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("cannot resolve %s: no such host", dnsErr.Name)
		}
		return fmt.Sprintf("cannot resolve %s: %v", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		addr := ""
		if errors.As(err, &opErr) && opErr.Addr != nil {
			addr = " by " + opErr.Addr.String()
		}
		return "connection refused" + addr + ": nothing listens there, or a firewall rejects it"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server: " + err.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// FormatTime prints a time the way check messages do: 2026-11-25 09:00 UTC.
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// Ago prints a positive duration compactly for messages: 2h13m, 3d4h, 45s.
func Ago(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return strings.TrimSuffix(d.String(), "0s")
	default:
		days := int(d / (24 * time.Hour))
		hours := int((d % (24 * time.Hour)) / time.Hour)
		return fmt.Sprintf("%dd%dh", days, hours)
	}
}
