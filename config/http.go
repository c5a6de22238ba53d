package config

import (
	"crypto/x509"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// HTTPProbe is the http: section of a probe of kind http.
type HTTPProbe struct {
	URL    string `yaml:"url"`
	Method string `yaml:"method"`
	// Headers are request headers written inline; secrets are refused here.
	Headers map[string]string `yaml:"headers"`
	// HeaderFiles are request headers whose values are secrets, each read at
	// load from a file (header name → path).
	HeaderFiles map[string]string `yaml:"header_files"`
	// HeaderEnv are request headers whose values are secrets, each read at
	// load from an environment variable (header name → variable name).
	HeaderEnv map[string]string `yaml:"header_env"`
	Body      string            `yaml:"body"`
	// Status lists the accepted status codes (default 200-299).
	Status List[int] `yaml:"status"`
	// BodyMatches and BodyNotMatches are regular expressions the body must
	// (must not) match.
	BodyMatches    []string `yaml:"body_matches"`
	BodyNotMatches []string `yaml:"body_not_matches"`
	// JSON asserts fields of a JSON body: path (dotted, a.b.0.c) → expected
	// value as text.
	JSON []JSONAssertion `yaml:"json"`
	// HeaderMatches asserts response headers: name → regular expression.
	HeaderMatches map[string]string `yaml:"header_matches"`
	// MaxBodyBytes cuts the body read (default 1 MiB); a longer body fails.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Redirects: follow (default, up to 10, http(s) only) or none.
	Redirects string `yaml:"redirects"`
	// CAFile verifies the server against these roots instead of the system's.
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify turns off chain and hostname verification.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// ServerName overrides the TLS server name (SNI and verification).
	ServerName string `yaml:"server_name"`
	// MinTLSVersion fails the probe below this version ("1.2", "1.3").
	MinTLSVersion string `yaml:"min_tls_version"`
	// CertExpiryWarning turns the tls_cert_expiry check into a warning (the
	// probe stays up) when the earliest certificate of the chain expires
	// sooner (default 14d); an expired certificate fails it.
	CertExpiryWarning Duration `yaml:"cert_expiry_warning"`

	// Parsed at load.
	BodyMatchesRE    []*regexp.Regexp          `yaml:"-"`
	BodyNotMatchesRE []*regexp.Regexp          `yaml:"-"`
	HeaderMatchesRE  map[string]*regexp.Regexp `yaml:"-"`
	Roots            *x509.CertPool            `yaml:"-"`
	// SecretHeader holds HeaderFiles and HeaderEnv resolved. Never log it.
	SecretHeader http.Header `yaml:"-"`
}

// JSONAssertion checks one field of a JSON body.
type JSONAssertion struct {
	Path  string `yaml:"path"`
	Equal string `yaml:"equal"`
}

// DefaultHTTPProbe is GET, any 2xx, 1 MiB, redirects followed.
var DefaultHTTPProbe = HTTPProbe{Method: http.MethodGet, MaxBodyBytes: 1 << 20, Redirects: "follow", CertExpiryWarning: Duration(14 * 24 * time.Hour)}

// UnmarshalYAML sets defaults, then decodes.
func (h *HTTPProbe) UnmarshalYAML(unmarshal func(any) error) error {
	*h = DefaultHTTPProbe
	type plain HTTPProbe
	return unmarshal((*plain)(h))
}

func (h *HTTPProbe) validate(p *problems, key string, c *Config) {
	u, err := url.Parse(h.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key+".url", "must be an absolute http(s) URL, got %q", redactURL(h.URL))
	}
	refuseUserinfo(p, key+".url", h.URL, true)
	h.Method = strings.ToUpper(h.Method)
	switch h.Method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		p.add(key+".method", "unknown HTTP method %q", h.Method)
	}
	h.validateHeaders(p, key, c)
	for i, s := range h.Status {
		if s < 100 || s > 599 {
			p.add(fmt.Sprintf("%s.status[%d]", key, i), "%d is not an HTTP status code", s)
		}
	}
	h.BodyMatchesRE = compileAll(p, key+".body_matches", h.BodyMatches)
	h.BodyNotMatchesRE = compileAll(p, key+".body_not_matches", h.BodyNotMatches)
	h.HeaderMatchesRE = map[string]*regexp.Regexp{}
	for _, name := range slices.Sorted(maps.Keys(h.HeaderMatches)) {
		re, err := regexp.Compile(h.HeaderMatches[name])
		if err != nil {
			p.add(key+".header_matches."+name, "bad regular expression: %v", err)
			continue
		}
		h.HeaderMatchesRE[name] = re
	}
	for i, j := range h.JSON {
		if j.Path == "" {
			p.add(fmt.Sprintf("%s.json[%d].path", key, i), "must not be empty")
		}
	}
	if h.MaxBodyBytes <= 0 {
		p.add(key+".max_body_bytes", "must be positive")
	}
	switch h.Redirects {
	case "follow", "none":
	default:
		p.add(key+".redirects", "must be follow or none, got %q", h.Redirects)
	}
	switch h.MinTLSVersion {
	case "", "1.0", "1.1", "1.2", "1.3":
	default:
		p.add(key+".min_tls_version", "must be 1.0, 1.1, 1.2 or 1.3, got %q", h.MinTLSVersion)
	}
	if h.CAFile != "" && h.InsecureSkipVerify {
		p.add(key+".insecure_skip_verify", "contradicts ca_file: verify against ca_file or skip verification, not both")
	}
	if h.CAFile != "" {
		certs := c.loadCerts(p, key+".ca_file", h.CAFile)
		if len(certs) > 0 {
			h.Roots = x509.NewCertPool()
			for _, cert := range certs {
				h.Roots.AddCert(cert)
			}
		}
	}
}

func compileAll(p *problems, key string, exprs []string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for i, e := range exprs {
		re, err := regexp.Compile(e)
		if err != nil {
			p.add(fmt.Sprintf("%s[%d]", key, i), "bad regular expression: %v", err)
			continue
		}
		out = append(out, re)
	}
	return out
}

// secretHeaderRE matches header names that carry credentials.
var secretHeaderRE = regexp.MustCompile(`(?i)^(authorization|proxy-authorization|cookie)$|token|secret|passw|api-?key|devkey|credential`)

// validateHeaders refuses secrets written inline and resolves those given
// by file or environment, so a missing secret fails the load, not a run.
func (h *HTTPProbe) validateHeaders(p *problems, key string, c *Config) {
	for _, name := range slices.Sorted(maps.Keys(h.Headers)) {
		if secretHeaderRE.MatchString(name) {
			p.add(key+".headers."+name, "header %s carries a secret: give it in header_files or header_env, never inline", name)
		}
	}
	h.SecretHeader = http.Header{}
	for _, name := range slices.Sorted(maps.Keys(h.HeaderFiles)) {
		v, err := c.ReadSecret(h.HeaderFiles[name])
		switch {
		case err != nil:
			p.add(key+".header_files."+name, "cannot read %s: %v", h.HeaderFiles[name], unwrapPathErr(err))
		case v == "":
			p.add(key+".header_files."+name, "%s is empty", h.HeaderFiles[name])
		default:
			h.SecretHeader.Set(name, v)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(h.HeaderEnv)) {
		v := os.Getenv(h.HeaderEnv[name])
		if v == "" {
			p.add(key+".header_env."+name, "environment variable %s is not set", h.HeaderEnv[name])
			continue
		}
		h.SecretHeader.Set(name, v)
	}
	for _, name := range slices.Sorted(maps.Keys(h.Headers)) {
		if _, dup := h.SecretHeader[http.CanonicalHeaderKey(name)]; dup {
			p.add(key+".headers."+name, "header %s is also given in header_files or header_env", name)
		}
	}
}
