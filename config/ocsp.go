package config

import (
	"crypto"
	"crypto/x509"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OCSPProbe is the ocsp: section of a probe of kind ocsp: one certificate
// (or serial) asked about at one responder, checked against RFC 6960/5019
// and the CA/B Forum Baseline Requirements.
type OCSPProbe struct {
	// URL of the responder; default: the certificate's AIA OCSP URL.
	URL string `yaml:"url"`
	// Certificate (PEM or DER file) to ask about. Give certificate, serial
	// or never_issued.
	Certificate string `yaml:"certificate"`
	// Serial (hex, optional 0x and colons) to ask about when the
	// certificate itself is not at hand.
	Serial string `yaml:"serial"`
	// NeverIssued asks about a fresh random serial each run; the answer
	// must not be good (unknown, revoked or unauthorized pass).
	NeverIssued bool `yaml:"never_issued"`
	// Issuer is the issuing CA certificate (required): it hashes into the
	// CertID and must sign the response or its delegated responder.
	Issuer string `yaml:"issuer"`
	// Responder pins the delegated responder certificate the response must
	// be signed with (optional).
	Responder string `yaml:"responder"`
	// Expect is the status the certificate must have: good (default),
	// revoked or unknown.
	Expect string `yaml:"expect"`
	// Reason, with expect: revoked, is the revocation reason the response
	// must carry (keyCompromise, superseded, ...).
	Reason string `yaml:"reason"`
	// Methods are the HTTP methods to ask with, each checked in full:
	// post (default), get (RFC 5019 base64 in the path).
	Methods []string `yaml:"methods"`
	// Hash is the CertID hash: sha1 (default, what RFC 5019 responders
	// must support) or sha256.
	Hash string `yaml:"hash"`
	// Nonce sends an RFC 9654 nonce; a nonce echoed back must match.
	Nonce bool `yaml:"nonce"`
	// MaxAge is the oldest thisUpdate accepted (BR §4.9.10: no later than
	// four days after thisUpdate).
	MaxAge Duration `yaml:"max_age"`
	// MaxValidity is the longest validity interval, nextUpdate − thisUpdate
	// counted inclusively (BR §4.9.10: 10 days).
	MaxValidity Duration `yaml:"max_validity"`
	// MinValidity is the shortest validity interval, counted inclusively
	// (BR §4.9.10: 8 hours); 0 turns the check off.
	MinValidity Duration `yaml:"min_validity"`
	// MaxLatency is the slowest acceptable answer (BR §4.10.2: 10s).
	MaxLatency Duration `yaml:"max_latency"`
	// MaxBodyBytes cuts the response read (default 1 MiB); longer fails.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Skew is the clock difference tolerated on thisUpdate and producedAt
	// in the future (default 5m).
	Skew Duration `yaml:"skew"`

	// Parsed at load.
	Cert          *x509.Certificate `yaml:"-"`
	IssuerCert    *x509.Certificate `yaml:"-"`
	ResponderCert *x509.Certificate `yaml:"-"`
	SerialNumber  *big.Int          `yaml:"-"`
	HashAlg       crypto.Hash       `yaml:"-"`
	ReasonCode    int               `yaml:"-"` // -1 when no reason is expected
}

// DefaultOCSPProbe holds the BR limits and RFC defaults.
var DefaultOCSPProbe = OCSPProbe{
	Methods:      []string{"post"},
	Hash:         "sha1",
	MaxAge:       Duration(4 * 24 * time.Hour),
	MaxValidity:  Duration(10 * 24 * time.Hour),
	MinValidity:  Duration(8 * time.Hour),
	MaxLatency:   Duration(10 * time.Second),
	MaxBodyBytes: 1 << 20,
	Skew:         Duration(5 * time.Minute),
}

// UnmarshalYAML sets defaults, then decodes.
func (o *OCSPProbe) UnmarshalYAML(unmarshal func(any) error) error {
	*o = DefaultOCSPProbe
	o.Methods = slices.Clone(DefaultOCSPProbe.Methods)
	type plain OCSPProbe
	return unmarshal((*plain)(o))
}

// ReasonCodes maps RFC 5280 §5.3.1 reason names to their codes.
var ReasonCodes = map[string]int{
	"unspecified": 0, "keyCompromise": 1, "cACompromise": 2, "affiliationChanged": 3,
	"superseded": 4, "cessationOfOperation": 5, "certificateHold": 6,
	"removeFromCRL": 8, "privilegeWithdrawn": 9, "aACompromise": 10,
}

// ReasonName names a reason code.
func ReasonName(code int) string {
	for n, c := range ReasonCodes {
		if c == code {
			return n
		}
	}
	return "reason " + big.NewInt(int64(code)).String()
}

func (o *OCSPProbe) validate(p *problems, key string, c *Config) {
	o.ReasonCode = -1
	if o.Issuer == "" {
		p.add(key+".issuer", "must name the issuing CA certificate file")
	} else if certs := c.loadCerts(p, key+".issuer", o.Issuer); len(certs) > 0 {
		o.IssuerCert = certs[0]
	}
	given := 0
	for _, b := range []bool{o.Certificate != "", o.Serial != "", o.NeverIssued} {
		if b {
			given++
		}
	}
	if given != 1 {
		p.add(key+".certificate", "give exactly one of certificate, serial or never_issued")
	}
	if o.Certificate != "" {
		if certs := c.loadCerts(p, key+".certificate", o.Certificate); len(certs) > 0 {
			o.Cert = certs[0]
			o.SerialNumber = o.Cert.SerialNumber
			if o.IssuerCert != nil {
				if err := o.Cert.CheckSignatureFrom(o.IssuerCert); err != nil {
					p.add(key+".certificate", "%s was not issued by %s (%q): %v", o.Certificate, o.Issuer, o.IssuerCert.Subject.String(), err)
				}
			}
		}
	}
	if o.Serial != "" {
		s := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(o.Serial), "0x"), ":", "")
		n, ok := new(big.Int).SetString(s, 16)
		if !ok || n.Sign() <= 0 {
			p.add(key+".serial", "must be a positive hexadecimal serial number, got %q", o.Serial)
		} else {
			o.SerialNumber = n
		}
	}
	if o.Responder != "" {
		if certs := c.loadCerts(p, key+".responder", o.Responder); len(certs) > 0 {
			o.ResponderCert = certs[0]
		}
	}
	if o.URL == "" && o.Cert != nil {
		if len(o.Cert.OCSPServer) == 0 {
			p.add(key+".url", "not given and %s has no AIA OCSP URL", o.Certificate)
		} else {
			o.URL = o.Cert.OCSPServer[0]
		}
	}
	if o.URL == "" && o.Cert == nil && given == 1 && o.Certificate == "" {
		p.add(key+".url", "must be given with serial or never_issued (there is no certificate to take the AIA URL from)")
	}
	if o.URL != "" {
		if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(key+".url", "must be an absolute http(s) URL, got %q", redactURL(o.URL))
		}
		refuseUserinfo(p, key+".url", o.URL, false)
	}
	switch {
	case o.NeverIssued && o.Expect != "":
		p.add(key+".expect", "leave expect out with never_issued: a never-issued serial must simply not be good")
	case o.Expect == "" && !o.NeverIssued:
		o.Expect = "good"
	case o.NeverIssued:
	case o.Expect != "good" && o.Expect != "revoked" && o.Expect != "unknown":
		p.add(key+".expect", "must be good, revoked or unknown, got %q", o.Expect)
	}
	if o.Reason != "" {
		code, ok := ReasonCodes[o.Reason]
		switch {
		case !ok:
			names := make([]string, 0, len(ReasonCodes))
			for n := range ReasonCodes {
				names = append(names, n)
			}
			slices.Sort(names)
			p.add(key+".reason", "unknown reason %q (known: %s)", o.Reason, strings.Join(names, ", "))
		case o.Expect != "revoked":
			p.add(key+".reason", "only applies with expect: revoked")
		default:
			o.ReasonCode = code
		}
	}
	if len(o.Methods) == 0 {
		p.add(key+".methods", "must name post, get or both")
	}
	seen := map[string]bool{}
	for i, m := range o.Methods {
		m = strings.ToLower(m)
		o.Methods[i] = m
		switch {
		case m != "post" && m != "get":
			p.add(key+".methods", "methods[%d] must be post or get, got %q", i, m)
		case seen[m]:
			p.add(key+".methods", "%s given twice", m)
		}
		seen[m] = true
	}
	switch strings.ToLower(o.Hash) {
	case "sha1":
		o.HashAlg = crypto.SHA1
	case "sha256":
		o.HashAlg = crypto.SHA256
	default:
		p.add(key+".hash", "must be sha1 or sha256, got %q", o.Hash)
	}
	if o.MaxBodyBytes <= 0 {
		p.add(key+".max_body_bytes", "must be positive")
	}
	for k, d := range map[string]Duration{"max_age": o.MaxAge, "max_validity": o.MaxValidity, "max_latency": o.MaxLatency} {
		if d <= 0 {
			p.add(key+"."+k, "must be positive")
		}
	}
	if o.Skew < 0 {
		p.add(key+".skew", "must not be negative")
	}
	if o.MaxValidity > 0 && o.MinValidity > o.MaxValidity {
		p.add(key+".min_validity", "%s is over max_validity %s", o.MinValidity.D(), o.MaxValidity.D())
	}
}
