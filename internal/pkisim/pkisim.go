// Package pkisim is an in-process certificate authority for tests and the
// demo: a root, an issuing CA, a delegated OCSP responder, a TSA signer, one
// good and one revoked certificate, served over HTTP (OCSP, CRL, and the TSA
// and ACME surfaces), with a switch for every fault the probes must catch.
// Every response is computed on request from the injected clock.
package pkisim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/ocspwire"
)

// Options configure a Sim. The zero value is usable: real clock, AIA URLs on
// http://127.0.0.1 (use NewServer to get URLs that point at the sim).
type Options struct {
	// Clock drives every validity period and response time.
	Clock clock.Clock
	// BaseURL is where Handler is served (no trailing slash); the
	// certificates' AIA OCSP and CRL distribution point URLs start with it.
	BaseURL string
	// ExtraRevoked adds this many revoked serials to the CRL (and to the
	// OCSP responder's answers), for large-CRL tests and benchmarks.
	ExtraRevoked int
	// HugeBodyBytes is the body size of the *Huge faults (default 2 MiB).
	HugeBodyBytes int64
}

// Paths the Handler serves.
const (
	OCSPPath      = "/ocsp"
	CRLPath       = "/crl/issuer.crl"
	IssuerDERPath = "/certs/issuer.der"
)

// Sim is the simulated CA. Safe for concurrent use.
type Sim struct {
	clock   clock.Clock
	baseURL string
	huge    int64

	root, issuer, ocspSigner, signerNoEKU, signerNoCheck *issued
	otherCA, rogueSigner                                 *issued
	tsaRoot, tsaSigner                                   *issued
	good, revoked                                        *issued
	revokedAt                                            time.Time
	extra                                                []*big.Int // extra revoked serials
	extraSet                                             map[string]bool

	mux *http.ServeMux

	mu     sync.RWMutex
	faults map[Fault]bool

	crlMu     sync.Mutex // held while a CRL is built: one issuance at a time
	crlNumber int64
	crlCache  struct {
		key string
		der []byte
	}
}

// issued is a certificate with its key.
type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var (
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamp   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

// RevocationReason is the reason the revoked certificate carries
// (keyCompromise, RFC 5280 §5.3.1).
const RevocationReason = 1

// New builds the CA hierarchy. Certificates are valid from an hour before the
// clock's now: roots for 10 years, leaves and responders for 90 days.
func New(opts Options) (*Sim, error) {
	s := &Sim{clock: opts.Clock, baseURL: strings.TrimSuffix(opts.BaseURL, "/"), huge: opts.HugeBodyBytes, faults: map[Fault]bool{}}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.baseURL == "" {
		s.baseURL = "http://127.0.0.1"
	}
	if s.huge <= 0 {
		s.huge = 2 << 20
	}
	now := s.clock.Now().UTC().Truncate(time.Second)
	start := now.Add(-time.Hour)
	rootLife, leafLife := 10*365*24*time.Hour, 90*24*time.Hour
	var err error
	mk := func(tmpl *x509.Certificate, parent *issued) *issued {
		if err != nil {
			return nil
		}
		var it *issued
		it, err = issue(tmpl, parent)
		return it
	}
	caTmpl := func(cn string) *x509.Certificate {
		return &x509.Certificate{
			Subject:               pkix.Name{Country: []string{"JP"}, Organization: []string{"probed sim"}, CommonName: cn},
			NotBefore:             start,
			NotAfter:              start.Add(rootLife),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
	}
	nocheck := pkix.Extension{Id: ocspwire.OIDNoCheck, Value: asn1.NullBytes}
	responder := func(cn string, eku bool, nc bool) *x509.Certificate {
		t := &x509.Certificate{
			Subject:               pkix.Name{Organization: []string{"probed sim"}, CommonName: cn},
			NotBefore:             start,
			NotAfter:              start.Add(leafLife),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
		}
		if eku {
			t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
		}
		if nc {
			t.ExtraExtensions = []pkix.Extension{nocheck}
		}
		return t
	}
	s.root = mk(caTmpl("probed sim Root CA"), nil)
	issuerTmpl := caTmpl("probed sim Issuing CA")
	issuerTmpl.NotAfter = start.Add(5 * 365 * 24 * time.Hour)
	issuerTmpl.MaxPathLenZero = true
	s.issuer = mk(issuerTmpl, s.root)
	s.ocspSigner = mk(responder("probed sim OCSP Responder", true, true), s.issuer)
	s.signerNoEKU = mk(responder("probed sim OCSP Responder without EKU", false, true), s.issuer)
	s.signerNoCheck = mk(responder("probed sim OCSP Responder without nocheck", true, false), s.issuer)
	s.otherCA = mk(caTmpl("probed sim Unrelated CA"), nil)
	s.rogueSigner = mk(responder("probed sim Unrelated OCSP Responder", true, true), s.otherCA)

	s.tsaRoot = mk(caTmpl("probed sim TSA Root"), nil)
	ekuTS, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamp})
	s.tsaSigner = mk(&x509.Certificate{
		Subject:         pkix.Name{Country: []string{"JP"}, Organization: []string{"probed sim"}, CommonName: "probed sim TSA"},
		NotBefore:       start,
		NotAfter:        start.Add(2 * 365 * 24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: ekuTS}},
		// BasicConstraints present and CA false, as RFC 3161 signers should be.
		BasicConstraintsValid: true,
	}, s.tsaRoot)
	if err != nil {
		return nil, fmt.Errorf("build sim CA: %w", err)
	}

	leaf := func(cn string, serial *big.Int) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: cn},
			DNSNames:              []string{cn},
			NotBefore:             start,
			NotAfter:              start.Add(leafLife),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			OCSPServer:            []string{s.baseURL + OCSPPath},
			IssuingCertificateURL: []string{s.baseURL + IssuerDERPath},
			CRLDistributionPoints: []string{s.baseURL + CRLPath},
		}
	}
	goodSerial, err := getSerial(s.issuer.cert)
	if err != nil {
		return nil, err
	}
	revokedSerial, err := getSerial(s.issuer.cert)
	if err != nil {
		return nil, err
	}
	s.good = mk(leaf("good.sim.probed.test", goodSerial), s.issuer)
	s.revoked = mk(leaf("revoked.sim.probed.test", revokedSerial), s.issuer)
	if err != nil {
		return nil, fmt.Errorf("build sim leaves: %w", err)
	}
	s.revokedAt = start.Add(30 * time.Minute)
	for i := 0; i < opts.ExtraRevoked; i++ {
		// Deterministic, distinct, positive and 16 bytes long like real serials.
		b := make([]byte, 16)
		b[0] = 0x40
		b[1] = 0x5e
		for j := 0; j < 8; j++ {
			b[15-j] = byte(uint64(i) >> (8 * j))
		}
		s.extra = append(s.extra, new(big.Int).SetBytes(b))
	}
	s.extraSet = make(map[string]bool, len(s.extra))
	for _, e := range s.extra {
		s.extraSet[string(e.Bytes())] = true
	}
	s.mux = http.NewServeMux()
	s.routes()
	return s, nil
}

// routes registers every path the sim serves. The OCSP paths are dispatched
// in Handler before the mux, because GET requests put base64 (with '/') in
// the path and ServeMux would clean and redirect them.
func (s *Sim) routes() {
	s.mux.HandleFunc(CRLPath, s.serveCRL)
	s.mux.HandleFunc(IssuerDERPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		_, _ = w.Write(s.issuer.cert.Raw)
	})
	s.mux.HandleFunc(TSAPath, s.serveTSA)
	s.mux.HandleFunc(ACMEPrefix, s.serveACME)
}

// getSerial picks a random 16-byte serial whose OCSP GET request (SHA-1 and
// SHA-256 CertIDs, no nonce) has both '/' and '+' in its base64, so tests of
// GET exercise the escaping that trips responders up.
func getSerial(issuer *x509.Certificate) (*big.Int, error) {
	for range 10000 {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("read random serial: %w", err)
		}
		b[0] = b[0]&0x7f | 0x10
		serial := new(big.Int).SetBytes(b)
		ok := true
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			id, err := ocspwire.NewCertID(h, issuer, serial)
			if err != nil {
				return nil, err
			}
			der, err := ocspwire.MarshalRequest([]ocspwire.CertID{id}, nil)
			if err != nil {
				return nil, err
			}
			enc := base64.StdEncoding.EncodeToString(der)
			ok = ok && strings.Contains(enc, "/") && strings.Contains(enc, "+")
		}
		if ok {
			return serial, nil
		}
	}
	return nil, errors.New("pick serial: no serial with '/' and '+' in its GET encoding")
}

// issue makes a certificate from tmpl with a fresh P-256 key, signed by
// parent (self-signed when parent is nil).
func issue(tmpl *x509.Certificate, parent *issued) (*issued, error) {
	return issueWithKey(tmpl, parent, nil)
}

// issueWithKey is issue with the subject's key given (nil: a fresh P-256 key).
func issueWithKey(tmpl *x509.Certificate, parent *issued, key crypto.Signer) (*issued, error) {
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate key: %w", err)
		}
		key = k
	}
	if tmpl.SerialNumber == nil {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("read random serial: %w", err)
		}
		b[0] &= 0x7f
		b[0] |= 0x01
		tmpl.SerialNumber = new(big.Int).SetBytes(b)
	}
	parentCert, parentKey := tmpl, crypto.Signer(key)
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("create certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return &issued{cert: cert, key: key}, nil
}

// NewServer starts the sim on a loopback httptest server whose URL is the
// sim's BaseURL (so the certificates' AIA and CDP point at it). The caller
// closes the server.
func NewServer(opts Options) (*Sim, *httptest.Server, error) {
	srv := httptest.NewUnstartedServer(nil)
	opts.BaseURL = "http://" + srv.Listener.Addr().String()
	s, err := New(opts)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	srv.Config.Handler = s.Handler()
	srv.Start()
	return s, srv, nil
}

// Handler serves the sim: POST /ocsp, GET /ocsp/{base64}, GET /crl/issuer.crl,
// GET /certs/issuer.der, and the TSA and ACME routes.
func (s *Sim) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == OCSPPath || strings.HasPrefix(r.URL.Path, OCSPPath+"/") {
			s.serveOCSP(w, r)
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// Set turns a fault on or off.
func (s *Sim) Set(f Fault, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.faults[f] = true
	} else {
		delete(s.faults, f)
	}
}

// Faults returns every known fault with its state.
func (s *Sim) Faults() map[Fault]bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[Fault]bool{}
	for _, f := range KnownFaults() {
		out[f] = false
	}
	for f, on := range s.faults {
		out[f] = on
	}
	return out
}

// on reports whether a fault is on.
func (s *Sim) on(f Fault) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.faults[f]
}

// now is the sim's time, to the second (DER times have no fractions).
func (s *Sim) now() time.Time { return s.clock.Now().UTC().Truncate(time.Second) }

// Clock is the clock the sim answers from.
func (s *Sim) Clock() clock.Clock { return s.clock }

// BaseURL is where the sim's certificates say it is served.
func (s *Sim) BaseURL() string { return s.baseURL }

// OCSPURL is the responder URL in the leaves' AIA.
func (s *Sim) OCSPURL() string { return s.baseURL + OCSPPath }

// CRLURL is the distribution point in the leaves' CDP.
func (s *Sim) CRLURL() string { return s.baseURL + CRLPath }

// Root is the root CA certificate.
func (s *Sim) Root() *x509.Certificate { return s.root.cert }

// Issuer is the issuing CA, which signs the leaves, the CRL and the
// delegated responders.
func (s *Sim) Issuer() *x509.Certificate { return s.issuer.cert }

// OCSPSigner is the delegated OCSP responder certificate.
func (s *Sim) OCSPSigner() *x509.Certificate { return s.ocspSigner.cert }

// OtherCA is an unrelated CA (signs the wrong-signer responder and is the
// issuer in mismatched CertIDs).
func (s *Sim) OtherCA() *x509.Certificate { return s.otherCA.cert }

// Good is a valid, unrevoked leaf.
func (s *Sim) Good() *x509.Certificate { return s.good.cert }

// Revoked is a leaf revoked for keyCompromise at RevokedAt.
func (s *Sim) Revoked() *x509.Certificate { return s.revoked.cert }

// RevokedAt is when Revoked was revoked.
func (s *Sim) RevokedAt() time.Time { return s.revokedAt }

// TSARoot is the root the TSA signer chains to.
func (s *Sim) TSARoot() *x509.Certificate { return s.tsaRoot.cert }

// TSASigner is the timestamping certificate (EKU id-kp-timeStamping, critical).
func (s *Sim) TSASigner() *x509.Certificate { return s.tsaSigner.cert }

// TSAKey is the TSA signer's private key.
func (s *Sim) TSAKey() crypto.Signer { return s.tsaSigner.key }

// WriteFiles writes the PEM files a probes.yaml names: root.pem, issuer.pem,
// chain.pem (issuer then root), good.pem, revoked.pem, ocsp-signer.pem,
// other-ca.pem, tsa-root.pem and tsa.pem.
func (s *Sim) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write sim files: %w", err)
	}
	files := map[string][]*x509.Certificate{
		"root.pem":        {s.root.cert},
		"issuer.pem":      {s.issuer.cert},
		"chain.pem":       {s.issuer.cert, s.root.cert},
		"good.pem":        {s.good.cert},
		"revoked.pem":     {s.revoked.cert},
		"ocsp-signer.pem": {s.ocspSigner.cert},
		"other-ca.pem":    {s.otherCA.cert},
		"tsa-root.pem":    {s.tsaRoot.cert},
		"tsa.pem":         {s.tsaSigner.cert},
	}
	for name, certs := range files {
		var b []byte
		for _, c := range certs {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write sim files: %w", err)
		}
	}
	return nil
}

// hijackClose drops the connection without a response (the "down" faults).
func hijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // reset, as a crashed responder's host would
	}
	_ = conn.Close()
}

// holdUntilGone answers nothing until the client gives up. The body is read
// first: the server notices a closed connection (and cancels the request's
// context) only once the handler has consumed the request body.
func holdUntilGone(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	<-r.Context().Done()
}

// writeHuge streams n bytes of filler.
func writeHuge(w http.ResponseWriter, contentType string, n int64) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", fmt.Sprint(n))
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = 'A'
	}
	for n > 0 {
		k := min(n, int64(len(chunk)))
		if _, err := w.Write(chunk[:k]); err != nil {
			return
		}
		n -= k
	}
}

// garbage is what the *Garbage faults serve: an error page, as a
// misconfigured CDN or load balancer returns.
const garbage = "<html><body><h1>Service Temporarily Unavailable</h1></body></html>\n"
