package config

// The PKI kinds' sections. Their keys, defaults and checks are filled in by
// the PKI probes work; until then they accept a URL only.

// OCSPProbe is the ocsp: section of a probe of kind ocsp.
type OCSPProbe struct {
	URL string `yaml:"url"`
}

func (o *OCSPProbe) validate(p *problems, key string, c *Config) {}

// CRLProbe is the crl: section of a probe of kind crl.
type CRLProbe struct {
	URL string `yaml:"url"`
}

func (o *CRLProbe) validate(p *problems, key string, c *Config) {}
