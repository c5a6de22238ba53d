package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"
)

// ACMEProbe is the acme: section of a probe of kind acme: an RFC 8555
// directory and its nonce endpoint, and optionally a deep check.
type ACMEProbe struct {
	// Directory is the directory URL (https).
	Directory string `yaml:"directory"`
	// Roots is a PEM file of the roots the server's TLS certificate must
	// chain to; omitted, the system roots are used.
	Roots string `yaml:"roots"`
	// ExpectEAB, when set, requires meta.externalAccountRequired to equal it.
	ExpectEAB *bool `yaml:"expect_eab"`
	// ExpectMeta lists meta fields that must be present (termsOfService,
	// website, caaIdentities, externalAccountRequired, profiles, ...).
	ExpectMeta []string `yaml:"expect_meta"`
	// ExpectARI, when set, requires renewalInfo (ARI) to be advertised (true)
	// or absent (false).
	ExpectARI *bool `yaml:"expect_ari"`
	// MaxBodyBytes cuts every response read (default 64 KiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Deep, when set, creates (or finds) an account, places an order and
	// deactivates its authorizations on every run. Point it at a staging
	// directory.
	Deep *ACMEDeep `yaml:"deep"`

	// Parsed at load.
	// RootPool is nil when Roots is omitted: the system roots apply.
	RootPool *x509.CertPool `yaml:"-"`
}

// ACMEDeep configures the deep check.
type ACMEDeep struct {
	// KeyFile is the account key (PEM: EC, RSA or PKCS#8). The account is
	// reused across runs, so staging rate limits on new accounts are not hit.
	KeyFile string `yaml:"key_file"`
	// Contact is an optional contact URL such as mailto:pki-ops@example.com.
	Contact string `yaml:"contact"`
	// Identifier is the DNS name ordered; no challenge is ever answered, the
	// authorizations are deactivated at once.
	Identifier string `yaml:"identifier"`
	// EABKeyID and EABHMACFile bind the account to an external account
	// (for CAs that require it); the file holds the base64url HMAC key.
	EABKeyID    string `yaml:"eab_kid"`
	EABHMACFile string `yaml:"eab_hmac_file"`

	// Parsed at load.
	Key     crypto.Signer `yaml:"-"`
	EABHMAC []byte        `yaml:"-"`
}

// DefaultACMEProbe reads at most 64 KiB per response.
var DefaultACMEProbe = ACMEProbe{MaxBodyBytes: 64 << 10}

// UnmarshalYAML sets defaults, then decodes.
func (a *ACMEProbe) UnmarshalYAML(unmarshal func(any) error) error {
	*a = DefaultACMEProbe
	type plain ACMEProbe
	return unmarshal((*plain)(a))
}

func (a *ACMEProbe) validate(p *problems, key string, c *Config) {
	u, err := url.Parse(a.Directory)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		p.add(key+".directory", "must be an absolute https URL, got %q", redactURL(a.Directory))
	case u.Scheme != "https":
		p.add(key+".directory", "must be https (RFC 8555 §6.1), got %q", redactURL(a.Directory))
	}
	refuseUserinfo(p, key+".directory", a.Directory, false)
	if a.Roots != "" {
		if certs := c.loadCerts(p, key+".roots", a.Roots); len(certs) > 0 {
			a.RootPool = x509.NewCertPool()
			for _, cert := range certs {
				a.RootPool.AddCert(cert)
			}
		}
	}
	for i, m := range a.ExpectMeta {
		if strings.TrimSpace(m) == "" {
			p.add(key+".expect_meta", "expect_meta[%d] must not be empty", i)
		}
	}
	if a.MaxBodyBytes <= 0 {
		p.add(key+".max_body_bytes", "must be positive, got %d", a.MaxBodyBytes)
	}
	if a.Deep != nil {
		a.Deep.validate(p, key+".deep", c)
	}
}

func (d *ACMEDeep) validate(p *problems, key string, c *Config) {
	if d.KeyFile == "" {
		p.add(key+".key_file", "required: a PEM account key (the account is reused across runs)")
	} else {
		data, err := readFile(c.Path(d.KeyFile), MaxFileBytes)
		if err != nil {
			p.add(key+".key_file", "cannot read %s: %v", d.KeyFile, unwrapPathErr(err))
		} else if k, err := ParsePrivateKey(data); err != nil {
			p.add(key+".key_file", "%s: %v", d.KeyFile, err)
		} else {
			d.Key = k
		}
	}
	if d.Contact != "" {
		if u, err := url.Parse(d.Contact); err != nil || u.Scheme == "" {
			p.add(key+".contact", "must be a URL such as mailto:pki-ops@example.com, got %q", d.Contact)
		}
	}
	if d.Identifier == "" {
		p.add(key+".identifier", "required: a DNS name the staging CA accepts in an order (no challenge is answered)")
	} else if strings.ContainsAny(d.Identifier, "/: ") || strings.HasPrefix(d.Identifier, ".") {
		p.add(key+".identifier", "must be a DNS name, got %q", d.Identifier)
	}
	switch {
	case d.EABKeyID == "" && d.EABHMACFile == "":
	case d.EABKeyID == "" || d.EABHMACFile == "":
		p.add(key+".eab_kid", "give both eab_kid and eab_hmac_file, or neither")
	default:
		s, err := c.ReadSecret(d.EABHMACFile)
		if err != nil {
			p.add(key+".eab_hmac_file", "cannot read %s: %v", d.EABHMACFile, unwrapPathErr(err))
			break
		}
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(s), "="))
		if err != nil || len(b) == 0 {
			p.add(key+".eab_hmac_file", "%s must hold the base64url HMAC key the CA issued", d.EABHMACFile)
			break
		}
		d.EABHMAC = b
	}
}

// ParsePrivateKey reads a PEM private key: EC, RSA or PKCS#8 (ECDSA or RSA).
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errNoKey
		}
		switch b.Type {
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(b.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			switch k := k.(type) {
			case *ecdsa.PrivateKey:
				return k, nil
			case *rsa.PrivateKey:
				return k, nil
			default:
				return nil, errKeyType
			}
		}
	}
}

var (
	errNoKey   = errors.New("no PEM private key (EC PRIVATE KEY, RSA PRIVATE KEY or PRIVATE KEY)")
	errKeyType = errors.New("ACME account keys must be ECDSA or RSA")
)
