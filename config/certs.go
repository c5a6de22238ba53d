package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// loadCerts reads PEM (or a single DER) certificates from a file named in the
// config, reporting a missing or unparseable file at key.
func (c *Config) loadCerts(p *problems, key, path string) []*x509.Certificate {
	if path == "" {
		return nil
	}
	data, err := readFile(c.Path(path), MaxFileBytes)
	if err != nil {
		p.add(key, "cannot read certificate file %s: %v", path, unwrapPathErr(err))
		return nil
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		p.add(key, "%s: %v", path, err)
		return nil
	}
	return certs
}

// ParseCertificates parses PEM certificates, or one DER certificate.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		cert, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, errors.New("no PEM certificate and not a DER certificate")
		}
		out = append(out, cert)
	}
	return out, nil
}
