package probes

import "time"

// The samples more than one kind exports are written through these
// functions only, so that each name has one definition (help and label
// names) across kinds: the collector drops a series whose definition
// differs from the name's first use (TestMetricDefinitionsAgreeAcrossKinds
// runs every kind at once to hold this).

// gaugeHTTPStatus exports probe_http_status_code.
func gaugeHTTPStatus(r *Report, code int) {
	r.Gauge("probe_http_status_code", "HTTP status code of the last response.", float64(code))
}

// gaugeBodyBytes exports probe_http_content_length_bytes.
func gaugeBodyBytes(r *Report, n int) {
	r.Gauge("probe_http_content_length_bytes", "Bytes of the response body read.", float64(n))
}

// gaugeCertExpiry exports probe_tls_cert_expiry_timestamp_seconds.
func gaugeCertExpiry(r *Report, notAfter time.Time) {
	r.Gauge("probe_tls_cert_expiry_timestamp_seconds", "Earliest NotAfter of the certificate chain of the last connection (the verified chain that lasts longest, or the presented certificates when none verifies).", float64(notAfter.Unix()))
}
