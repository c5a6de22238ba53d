package config

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TSAProbe is the tsa: section of a probe of kind tsa: an RFC 3161 timestamp
// authority asked for a token on every run.
type TSAProbe struct {
	URL string `yaml:"url"`
	// Hash is the message imprint algorithm: sha256 (default), sha384, sha512.
	Hash string `yaml:"hash"`
	// Policy is the TSA policy OID requested (reqPolicy); the token's policy
	// must equal it unless AllowedPolicies lists others.
	Policy string `yaml:"policy"`
	// AllowedPolicies are the policy OIDs a token may carry.
	AllowedPolicies []string `yaml:"allowed_policies"`
	// Roots is a PEM file of the roots the TSA signer must chain to (required).
	Roots string `yaml:"roots"`
	// Intermediates is a PEM file of intermediate certificates (and, for a TSA
	// that does not embed it, the signer certificate itself).
	Intermediates string `yaml:"intermediates"`
	// MaxSkew is the tolerance added to the token's stated accuracy when
	// genTime is compared with the time the request was sent and answered.
	MaxSkew Duration `yaml:"max_skew"`
	// MaxAccuracy, when set, fails tsa_accuracy when the token states a
	// worse accuracy and warns when it states none. 0 (the default) only
	// reports the accuracy: neither RFC 3161 nor the CSBR bound it.
	MaxAccuracy Duration `yaml:"max_accuracy"`
	// CertReq asks the TSA to embed its signer certificate (default true).
	CertReq bool `yaml:"cert_req"`
	// Headers are extra request headers written inline; credentials are
	// refused here (as for the http kind).
	Headers map[string]string `yaml:"headers"`
	// HeaderFiles are secret request headers (some TSAs need auth), each
	// read at load from a file (header name → path).
	HeaderFiles map[string]string `yaml:"header_files"`
	// HeaderEnv are secret request headers, each read at load from an
	// environment variable (header name → variable name).
	HeaderEnv map[string]string `yaml:"header_env"`
	// MaxBodyBytes cuts the response read (default 256 KiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// RefuseSHA1 adds a second request with a SHA-1 imprint that the TSA must
	// reject (tsa_sha1_refused).
	RefuseSHA1 bool `yaml:"refuse_sha1"`
	// SignerExpiryWarning warns (tsa_signer_validity) when the signer
	// certificate expires sooner than this (default 30d).
	SignerExpiryWarning Duration `yaml:"signer_expiry_warning"`

	// Parsed at load.
	HashFunc          crypto.Hash             `yaml:"-"`
	PolicyOID         asn1.ObjectIdentifier   `yaml:"-"`
	AllowedPolicyOIDs []asn1.ObjectIdentifier `yaml:"-"`
	RootPool          *x509.CertPool          `yaml:"-"`
	RootCerts         []*x509.Certificate     `yaml:"-"`
	IntermediateCerts []*x509.Certificate     `yaml:"-"`
	// RequestHeader holds every extra header, secrets resolved; never log it.
	RequestHeader http.Header `yaml:"-"`
}

// DefaultTSAProbe asks for a SHA-256 token with the signer certificate, and
// allows 1s of clock skew beyond the token's accuracy (it absorbs genTime
// truncated to whole seconds, which most TSAs do). The stated accuracy is
// reported, not bounded, unless max_accuracy is set.
var DefaultTSAProbe = TSAProbe{
	Hash:                "sha256",
	MaxSkew:             Duration(time.Second),
	CertReq:             true,
	MaxBodyBytes:        256 << 10,
	SignerExpiryWarning: Duration(30 * 24 * time.Hour),
}

// UnmarshalYAML sets defaults, then decodes.
func (t *TSAProbe) UnmarshalYAML(unmarshal func(any) error) error {
	*t = DefaultTSAProbe
	type plain TSAProbe
	return unmarshal((*plain)(t))
}

// TSAHashes maps the hash names the tsa kind accepts to their functions.
var TSAHashes = map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}

func (t *TSAProbe) validate(p *problems, key string, c *Config) {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key+".url", "must be an absolute http(s) URL, got %q", redactURL(t.URL))
	}
	refuseUserinfo(p, key+".url", t.URL, true)
	h, ok := TSAHashes[strings.ToLower(t.Hash)]
	if !ok {
		p.add(key+".hash", "must be sha256, sha384 or sha512, got %q", t.Hash)
	}
	t.HashFunc = h
	if t.Policy != "" {
		t.PolicyOID = parseOID(p, key+".policy", t.Policy)
	}
	t.AllowedPolicyOIDs = nil
	for i, s := range t.AllowedPolicies {
		if oid := parseOID(p, fmt.Sprintf("%s.allowed_policies[%d]", key, i), s); oid != nil {
			t.AllowedPolicyOIDs = append(t.AllowedPolicyOIDs, oid)
		}
	}
	if t.Roots == "" {
		p.add(key+".roots", "required: a PEM file of the root certificates the TSA signer must chain to")
	} else if certs := c.loadCerts(p, key+".roots", t.Roots); len(certs) > 0 {
		t.RootCerts = certs
		t.RootPool = x509.NewCertPool()
		for _, cert := range certs {
			t.RootPool.AddCert(cert)
		}
	}
	t.IntermediateCerts = c.loadCerts(p, key+".intermediates", t.Intermediates)
	if t.MaxBodyBytes <= 0 {
		p.add(key+".max_body_bytes", "must be positive, got %d", t.MaxBodyBytes)
	}
	t.RequestHeader = c.resolveHeaders(p, key, t.Headers, t.HeaderFiles, t.HeaderEnv)
}

// parseOID reads a dotted OID such as 1.3.6.1.4.1.4146.2.3.
func parseOID(p *problems, key, s string) asn1.ObjectIdentifier {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 {
		p.add(key, "must be a dotted OID such as 1.2.3.4, got %q", s)
		return nil
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			p.add(key, "must be a dotted OID such as 1.2.3.4, got %q", s)
			return nil
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		p.add(key, "is not a valid OID (first arc 0-2, second arc 0-39 under 0 and 1), got %q", s)
		return nil
	}
	return oid
}

// resolveHeaders builds the extra request headers of a section from its
// headers, header_files and header_env keys: credentials are refused
// inline, secrets are read now so a missing one fails the load, and no
// problem ever quotes a value.
func (c *Config) resolveHeaders(p *problems, key string, inline, files, env map[string]string) http.Header {
	out := http.Header{}
	valid := func(k, name string) bool {
		if name == "" || strings.ContainsAny(name, " \t\r\n:") {
			p.add(k, "must be an HTTP header name, got %q", name)
			return false
		}
		return true
	}
	set := func(k, name, v string) {
		if strings.ContainsAny(v, "\r\n") {
			p.add(k, "header %s: value contains a line break", name)
			return
		}
		if _, dup := out[http.CanonicalHeaderKey(name)]; dup {
			p.add(k, "header %s is given more than once across headers, header_files and header_env", name)
			return
		}
		out.Set(name, v)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		k := key + ".header_files." + name
		if !valid(k, name) {
			continue
		}
		v, err := c.ReadSecret(files[name])
		switch {
		case err != nil:
			p.add(k, "cannot read %s: %v", files[name], unwrapPathErr(err))
		case v == "":
			p.add(k, "%s is empty", files[name])
		default:
			set(k, name, v)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		k := key + ".header_env." + name
		if !valid(k, name) {
			continue
		}
		v := os.Getenv(env[name])
		if v == "" {
			p.add(k, "environment variable %s is not set", env[name])
			continue
		}
		set(k, name, v)
	}
	for _, name := range slices.Sorted(maps.Keys(inline)) {
		k := key + ".headers." + name
		switch {
		case !valid(k, name):
		case secretHeaderRE.MatchString(name):
			p.add(k, "header %s carries a secret: give it in header_files or header_env, never inline", name)
		default:
			set(k, name, inline[name])
		}
	}
	return out
}

// unwrapPathErr drops the path from a file error: the config names the file
// already.
func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
