package config

import (
	"crypto/x509"
	"net/url"
	"strconv"
	"time"
)

// CRLProbe is the crl: section of a probe of kind crl: one distribution
// point checked against RFC 5280 §5 and the Baseline Requirements, diffed
// against the CRL seen the run before.
type CRLProbe struct {
	// URL of the CRL. The BRs want http; an https URL fails crl_url.
	URL string `yaml:"url"`
	// Issuer is the CA certificate that signs the CRL (required).
	Issuer string `yaml:"issuer"`
	// Kind picks the BR limits: subscriber (default: validity ≤ 10 days,
	// thisUpdate ≤ 7 days old) or ca (both ≤ 12 months).
	Kind string `yaml:"kind"`
	// ExpectedIDP is the URL the issuingDistributionPoint must name
	// (default: url itself, when the CRL has an IDP).
	ExpectedIDP string `yaml:"expected_idp"`
	// RequireIDP fails a CRL without an issuingDistributionPoint (for
	// partitioned CRLs).
	RequireIDP bool `yaml:"require_idp"`
	// MaxBytes cuts the download (default 64 MiB); a longer CRL fails.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxAge is the oldest thisUpdate accepted (default by kind: 7d or 365d).
	MaxAge Duration `yaml:"max_age"`
	// MaxValidity is the longest nextUpdate − thisUpdate (default by kind:
	// 10d or 365d).
	MaxValidity Duration `yaml:"max_validity"`
	// Skew is the clock difference tolerated on a future thisUpdate (default 5m).
	Skew Duration `yaml:"skew"`
	// Certificates are revoked certificates whose expiry probed should know:
	// if one of their serials leaves the CRL before the certificate
	// expires, crl_dropped_serial fails (for other serials it warns).
	Certificates []string `yaml:"certificates"`

	// Parsed at load.
	IssuerCert *x509.Certificate   `yaml:"-"`
	Known      []*x509.Certificate `yaml:"-"`
}

// DefaultCRLProbe: subscriber limits are filled in by validate.
var DefaultCRLProbe = CRLProbe{Kind: "subscriber", MaxBytes: 64 << 20, Skew: Duration(5 * time.Minute)}

// UnmarshalYAML sets defaults, then decodes.
func (o *CRLProbe) UnmarshalYAML(unmarshal func(any) error) error {
	*o = DefaultCRLProbe
	type plain CRLProbe
	return unmarshal((*plain)(o))
}

// BR limits per CRL kind (BR §4.9.7).
const (
	subscriberCRLMaxAge      = 7 * 24 * time.Hour
	subscriberCRLMaxValidity = 10 * 24 * time.Hour
	caCRLMaxAge              = 365 * 24 * time.Hour
	caCRLMaxValidity         = 365 * 24 * time.Hour
)

func (o *CRLProbe) validate(p *problems, key string, c *Config) {
	if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key+".url", "must be an absolute http URL, got %q", redactURL(o.URL))
	}
	refuseUserinfo(p, key+".url", o.URL, false)
	if o.Issuer == "" {
		p.add(key+".issuer", "must name the CA certificate that signs the CRL")
	} else if certs := c.loadCerts(p, key+".issuer", o.Issuer); len(certs) > 0 {
		o.IssuerCert = certs[0]
	}
	switch o.Kind {
	case "subscriber":
		if o.MaxAge == 0 {
			o.MaxAge = Duration(subscriberCRLMaxAge)
		}
		if o.MaxValidity == 0 {
			o.MaxValidity = Duration(subscriberCRLMaxValidity)
		}
	case "ca":
		if o.MaxAge == 0 {
			o.MaxAge = Duration(caCRLMaxAge)
		}
		if o.MaxValidity == 0 {
			o.MaxValidity = Duration(caCRLMaxValidity)
		}
	default:
		p.add(key+".kind", "must be subscriber or ca, got %q", o.Kind)
	}
	if o.ExpectedIDP != "" {
		if u, err := url.Parse(o.ExpectedIDP); err != nil || u.Scheme == "" || u.Host == "" {
			p.add(key+".expected_idp", "must be an absolute URL, got %q", o.ExpectedIDP)
		}
	}
	if o.MaxBytes <= 0 {
		p.add(key+".max_bytes", "must be positive")
	}
	if o.MaxAge < 0 {
		p.add(key+".max_age", "must be positive")
	}
	if o.MaxValidity < 0 {
		p.add(key+".max_validity", "must be positive")
	}
	if o.Skew < 0 {
		p.add(key+".skew", "must not be negative")
	}
	for i, f := range o.Certificates {
		k := key + ".certificates[" + strconv.Itoa(i) + "]"
		for _, cert := range c.loadCerts(p, k, f) {
			if o.IssuerCert != nil {
				if err := cert.CheckSignatureFrom(o.IssuerCert); err != nil {
					p.add(k, "%s (%s) was not issued by %s: %v", f, cert.Subject.String(), o.Issuer, err)
					continue
				}
			}
			o.Known = append(o.Known, cert)
		}
	}
}
