package probes

import "crypto/x509"

type x509HostnameError = x509.HostnameError
