package probes

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
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

// NewHTTPClient returns a client with a fresh transport (no connection reuse
// across runs, so every run measures a real connect and handshake), redirects
// limited to http(s) and the given policy, and TLS set from tlsConf.
func NewHTTPClient(env Env, tlsConf *tls.Config, followRedirects bool) *http.Client {
	var rt http.RoundTripper = env.Dialer.Transport
	if rt == nil {
		rt = &http.Transport{
			Proxy:                  nil,
			DialContext:            (&net.Dialer{KeepAlive: -1}).DialContext,
			TLSClientConfig:        tlsConf,
			DisableKeepAlives:      true,
			ForceAttemptHTTP2:      false,
			MaxResponseHeaderBytes: 64 << 10,
		}
	}
	return &http.Client{
		Transport: rt,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !followRedirects {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s: only http and https are followed", req.URL.Scheme)
			}
			return nil
		},
	}
}

// Phases are the latency phases of one HTTP exchange, as httptrace sees them.
type Phases struct {
	start, dnsStart, dnsDone, connStart, connDone, tlsStart, tlsDone, wroteRequest, firstByte time.Time
}

// Trace returns a ClientTrace that fills the phases.
func (ph *Phases) Trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:             func(httptrace.DNSStartInfo) { ph.dnsStart = time.Now() },
		DNSDone:              func(httptrace.DNSDoneInfo) { ph.dnsDone = time.Now() },
		ConnectStart:         func(string, string) { ph.connStart = time.Now() },
		ConnectDone:          func(string, string, error) { ph.connDone = time.Now() },
		TLSHandshakeStart:    func() { ph.tlsStart = time.Now() },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { ph.tlsDone = time.Now() },
		WroteRequest:         func(httptrace.WroteRequestInfo) { ph.wroteRequest = time.Now() },
		GotFirstResponseByte: func() { ph.firstByte = time.Now() },
	}
}

// Record exports probe_http_duration_seconds{phase} for the phases seen; end
// is when the body was read.
func (ph *Phases) Record(r *Report, end time.Time) {
	gauge := func(phase string, from, to time.Time) {
		v := 0.0
		if !from.IsZero() && !to.IsZero() {
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

// ReadLimited reads at most limit bytes; tooLarge is true when the body had more.
func ReadLimited(body io.Reader, limit int64) (data []byte, tooLarge bool, err error) {
	data, err = io.ReadAll(io.LimitReader(body, limit+1))
	if int64(len(data)) > limit {
		return data[:limit], true, err
	}
	return data, false, err
}

func (h *httpProber) Probe(ctx context.Context, r *Report) {
	cfg := h.cfg
	tlsConf := &tls.Config{RootCAs: cfg.Roots, ServerName: cfg.ServerName, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // operator's choice, documented
	client := NewHTTPClient(h.env, tlsConf, cfg.Redirects == "follow")
	var body io.Reader
	if cfg.Body != "" {
		body = strings.NewReader(cfg.Body)
	}
	var ph Phases
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, ph.Trace()), cfg.Method, cfg.URL, body)
	if err != nil {
		r.Fail("http_request", fmt.Sprintf("cannot build request: %v", err), nil)
		return
	}
	req.Header.Set("User-Agent", "probed")
	for k, v := range cfg.Headers {
		req.Header.Set(k, v)
	}
	for k, vs := range cfg.SecretHeader {
		req.Header[k] = vs
	}
	if strings.EqualFold(req.Header.Get("Host"), "") == false {
		req.Host = req.Header.Get("Host")
	}
	resp, err := client.Do(req)
	if err != nil {
		r.Fail("http_connect", fmt.Sprintf("%s %s: %v", cfg.Method, cfg.URL, describeNetErr(ctx, err)), map[string]string{"url": cfg.URL, "error": err.Error()})
		return
	}
	defer resp.Body.Close()
	data, tooLarge, readErr := ReadLimited(resp.Body, cfg.MaxBodyBytes)
	end := time.Now()
	ph.Record(r, end)
	r.Pass("http_connect", fmt.Sprintf("connected to %s", resp.Request.URL.Host))
	r.Gauge("probe_http_status_code", "HTTP status code of the last response.", float64(resp.StatusCode))
	r.Gauge("probe_http_content_length_bytes", "Bytes of the response body read.", float64(len(data)))
	r.Gauge("probe_http_redirects", "Redirects followed.", float64(redirects(resp)))

	accepted := cfg.Status
	ok := slices.Contains(accepted, resp.StatusCode) || (len(accepted) == 0 && resp.StatusCode >= 200 && resp.StatusCode < 300)
	if ok {
		r.Pass("http_status", fmt.Sprintf("status %d", resp.StatusCode))
	} else {
		want := "2xx"
		if len(accepted) > 0 {
			want = fmt.Sprint(accepted)
		}
		r.Fail("http_status", fmt.Sprintf("status %d, want %s", resp.StatusCode, want), map[string]string{"status": strconv.Itoa(resp.StatusCode), "url": resp.Request.URL.String()})
	}
	switch {
	case tooLarge:
		r.Fail("http_body_size", fmt.Sprintf("body larger than the %d-byte limit", cfg.MaxBodyBytes), map[string]string{"limit": strconv.FormatInt(cfg.MaxBodyBytes, 10)})
	case readErr != nil:
		r.Fail("http_body_size", fmt.Sprintf("reading body: %v", describeNetErr(ctx, readErr)), nil)
	}
	for _, re := range cfg.BodyMatchesRE {
		if re.Match(data) {
			r.Pass("http_body_matches", "body matches "+re.String())
		} else {
			r.Fail("http_body_matches", fmt.Sprintf("body does not match %s", re), map[string]string{"regexp": re.String(), "body_start": snippet(data)})
		}
	}
	for _, re := range cfg.BodyNotMatchesRE {
		if loc := re.FindIndex(data); loc != nil {
			r.Fail("http_body_not_matches", fmt.Sprintf("body matches %s, which it must not: %q", re, snippet(data[loc[0]:loc[1]])), map[string]string{"regexp": re.String()})
		} else {
			r.Pass("http_body_not_matches", "body does not match "+re.String())
		}
	}
	for name, re := range cfg.HeaderMatchesRE {
		v := resp.Header.Get(name)
		if re.MatchString(v) {
			r.Pass("http_header_matches", fmt.Sprintf("header %s matches %s", name, re))
		} else {
			r.Fail("http_header_matches", fmt.Sprintf("header %s is %q, want a match for %s", name, v, re), map[string]string{"header": name, "value": v})
		}
	}
	if len(cfg.JSON) > 0 {
		checkJSON(r, data, cfg.JSON)
	}
	if resp.TLS != nil {
		checkTLS(r, resp.TLS, cfg, h.env.Clock.Now())
	}
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
		r.Fail("http_json", fmt.Sprintf("body is not JSON: %v", err), map[string]string{"body_start": snippet(data)})
		return
	}
	for _, a := range asserts {
		got, ok := jsonPath(doc, a.Path)
		switch {
		case !ok:
			r.Fail("http_json", fmt.Sprintf("JSON field %s is missing", a.Path), map[string]string{"path": a.Path})
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

func checkTLS(r *Report, st *tls.ConnectionState, cfg *config.HTTPProbe, now time.Time) {
	version := tlsVersions[st.Version]
	r.Gauge("probe_tls_version_info", "TLS version of the last connection.", 1, Label{"version", version})
	if cfg.MinTLSVersion != "" {
		if version < cfg.MinTLSVersion {
			r.Fail("tls_version", fmt.Sprintf("TLS %s negotiated, below the minimum %s", version, cfg.MinTLSVersion), map[string]string{"version": version})
		} else {
			r.Pass("tls_version", "TLS "+version)
		}
	}
	var earliest time.Time
	var subject string
	for _, c := range st.PeerCertificates {
		if earliest.IsZero() || c.NotAfter.Before(earliest) {
			earliest, subject = c.NotAfter, c.Subject.String()
		}
	}
	if earliest.IsZero() {
		return
	}
	r.Gauge("probe_tls_cert_expiry_timestamp_seconds", "Earliest NotAfter across the presented certificate chain.", float64(earliest.Unix()))
	left := earliest.Sub(now)
	switch {
	case left <= 0:
		r.Fail("tls_cert_expiry", fmt.Sprintf("certificate %q expired %s ago (%s)", subject, Ago(-left), FormatTime(earliest)), map[string]string{"not_after": earliest.UTC().Format(time.RFC3339), "subject": subject})
	case left < cfg.CertExpiryWarning.D():
		r.Fail("tls_cert_expiry", fmt.Sprintf("certificate %q expires in %s (%s)", subject, Ago(left), FormatTime(earliest)), map[string]string{"not_after": earliest.UTC().Format(time.RFC3339), "subject": subject})
	default:
		r.Pass("tls_cert_expiry", fmt.Sprintf("earliest expiry %s", FormatTime(earliest)))
	}
}

// describeNetErr turns transport errors into what an operator can act on,
// naming the TLS check that failed when that is the cause.
func describeNetErr(ctx context.Context, err error) string {
	var certErr *tls.CertificateVerificationError
	var hostErr x509HostnameError
	switch {
	case ctx.Err() != nil:
		return "timed out: " + err.Error()
	case errors.As(err, &hostErr):
		return "TLS hostname mismatch: " + err.Error()
	case errors.As(err, &certErr):
		return "TLS certificate not trusted: " + err.Error()
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
