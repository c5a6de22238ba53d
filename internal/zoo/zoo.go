// Package zoo is a hostile target: one server with a mode per misbehaviour
// a prober must survive (a handshake that never ends, a body that never
// comes, a Content-Length that lies, garbage, redirect loops, a gzip bomb,
// deeply nested ASN.1 and JSON). Tests point every probe kind at every mode
// and check that probed stays within its deadline and gives back every
// socket, goroutine and byte; bench/soak does the same for hours.
//
// Every mode is served over plain http and over https (a certificate from
// the zoo's own root, written by WriteCA) at URL(mode, tls), under any path:
// /<mode>/anything. StallTLS has a listener of its own, since no path is
// read before a handshake.
package zoo

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/pkisim"
)

// Mode is one misbehaviour.
type Mode string

// The modes. Each is the first path segment of its URL.
const (
	StallTLS     Mode = "stall-tls"     // accepts TCP, never answers the TLS handshake
	Stall        Mode = "stall"         // reads the request, never answers
	Trickle      Mode = "trickle"       // the response one byte per Options.TricklePeriod
	LyingLength  Mode = "lying-length"  // Content-Length: 64 MiB, then nothing
	HugeBody     Mode = "huge"          // Content-Length: 1 TiB, and bytes as fast as they go
	Garbage      Mode = "garbage"       // random bytes instead of HTTP
	RedirectLoop Mode = "redirect-loop" // 302 to itself, forever
	GzipBomb     Mode = "gzip-bomb"     // Content-Encoding: gzip, 256 MiB of zeros in about 256 KiB
	DeepASN1     Mode = "deep-asn1"     // 200,000 nested DER SEQUENCEs
	DeepJSON     Mode = "deep-json"     // 1,000,000 nested JSON arrays
)

// Modes lists every mode.
func Modes() []Mode {
	return []Mode{StallTLS, Stall, Trickle, LyingLength, HugeBody, Garbage, RedirectLoop, GzipBomb, DeepASN1, DeepJSON}
}

// Options tunes the zoo. The zero value is usable.
type Options struct {
	// TricklePeriod is the pause between two bytes in Trickle (default 1s).
	TricklePeriod time.Duration
}

// Zoo is the running server. Close ends every connection it holds.
type Zoo struct {
	opts              Options
	plain, tls, stall net.Listener
	srv, tlsSrv       *http.Server
	rootPEM           []byte
	asn1, json, bomb  []byte

	ctx    context.Context // ends with Close: every held connection lets go
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	held   map[net.Conn]struct{}
}

// Start serves the zoo on loopback.
func Start(opts Options) (*Zoo, error) {
	if opts.TricklePeriod <= 0 {
		opts.TricklePeriod = time.Second
	}
	z := &Zoo{opts: opts, held: map[net.Conn]struct{}{}}
	z.ctx, z.cancel = context.WithCancel(context.Background())
	cert, rootPEM, err := newCert()
	if err != nil {
		return nil, err
	}
	z.rootPEM = rootPEM
	z.asn1 = deepASN1(200000)
	z.json = append(bytes.Repeat([]byte("["), 1000000), bytes.Repeat([]byte("]"), 1000000)...)
	if z.bomb, err = gzipBomb(256 << 20); err != nil {
		return nil, err
	}
	var lns [3]net.Listener
	for i := range lns {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			for _, ln := range lns[:i] {
				ln.Close()
			}
			return nil, fmt.Errorf("zoo: listen: %w", err)
		}
	}
	z.plain, z.tls, z.stall = lns[0], lns[1], lns[2]
	quiet := log.New(io.Discard, "", 0)
	z.srv = &http.Server{Handler: z, ErrorLog: quiet, BaseContext: func(net.Listener) context.Context { return z.ctx }}
	z.tlsSrv = &http.Server{Handler: z, ErrorLog: quiet, BaseContext: func(net.Listener) context.Context { return z.ctx },
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	z.wg.Add(3)
	go func() { defer z.wg.Done(); z.srv.Serve(z.plain) }()
	go func() { defer z.wg.Done(); z.tlsSrv.ServeTLS(z.tls, "", "") }()
	go func() { defer z.wg.Done(); z.serveStall() }()
	return z, nil
}

// URL is where mode is served: over https when secure. StallTLS is the
// same host and port for both schemes: it never gets as far as either.
func (z *Zoo) URL(m Mode, secure bool) string {
	switch {
	case m == StallTLS && secure:
		return "https://" + z.stall.Addr().String() + "/"
	case m == StallTLS:
		return "http://" + z.stall.Addr().String() + "/"
	case secure:
		return "https://" + z.tls.Addr().String() + "/" + string(m) + "/"
	}
	return "http://" + z.plain.Addr().String() + "/" + string(m) + "/"
}

// RootPEM is the certificate the https listener chains to.
func (z *Zoo) RootPEM() []byte { return z.rootPEM }

// WriteCA writes RootPEM to path, for a probe's ca_file.
func (z *Zoo) WriteCA(path string) error { return os.WriteFile(path, z.rootPEM, 0o644) }

// Close stops the zoo and drops every connection it was holding.
func (z *Zoo) Close() error {
	z.cancel()
	z.stall.Close()
	z.mu.Lock()
	for c := range z.held {
		c.Close()
	}
	z.mu.Unlock()
	err := errors.Join(z.srv.Close(), z.tlsSrv.Close())
	z.wg.Wait()
	return err
}

// serveStall accepts connections and reads them until the peer gives up,
// never writing a byte.
func (z *Zoo) serveStall() {
	for {
		c, err := z.stall.Accept()
		if err != nil {
			return
		}
		if !z.hold(c) {
			return
		}
		z.wg.Add(1)
		go func() {
			defer z.wg.Done()
			defer z.release(c)
			io.Copy(io.Discard, c)
		}()
	}
}

// hold tracks a connection Close must end; false once the zoo is closed.
func (z *Zoo) hold(c net.Conn) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.ctx.Err() != nil {
		c.Close()
		return false
	}
	z.held[c] = struct{}{}
	return true
}

func (z *Zoo) release(c net.Conn) {
	c.Close()
	z.mu.Lock()
	delete(z.held, c)
	z.mu.Unlock()
}

// ServeHTTP dispatches on the first path segment.
func (z *Zoo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	mode, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch Mode(mode) {
	case Stall:
		<-r.Context().Done()
	case Trickle:
		z.trickle(w, r)
	case LyingLength:
		w.Header().Set("Content-Length", fmt.Sprint(64<<20))
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	case HugeBody:
		w.Header().Set("Content-Length", fmt.Sprint(int64(1)<<40))
		chunk := bytes.Repeat([]byte{0x30}, 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	case Garbage:
		z.garbage(w)
	case RedirectLoop:
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	case GzipBomb:
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(z.bomb)
	case DeepASN1:
		w.Header().Set("Content-Type", contentType(r.URL.Path))
		w.Write(z.asn1)
	case DeepJSON:
		w.Header().Set("Content-Type", "application/json")
		w.Write(z.json)
	default:
		http.Error(w, "zoo: unknown mode "+mode, http.StatusNotFound)
	}
}

// contentType is what a kind expects, guessed from the rest of the path
// (/deep-asn1/ocsp, /deep-asn1/tsa, /deep-asn1/crl), so the nesting reaches
// the parser instead of a Content-Type check.
func contentType(path string) string {
	switch {
	case strings.Contains(path, "ocsp"):
		return "application/ocsp-response"
	case strings.Contains(path, "tsa"):
		return "application/timestamp-reply"
	case strings.Contains(path, "crl"):
		return "application/pkix-crl"
	}
	return "application/octet-stream"
}

// trickle writes a whole response, headers included, one byte at a time.
func (z *Zoo) trickle(w http.ResponseWriter, r *http.Request) {
	c, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if !z.hold(c) {
		return
	}
	defer z.release(c)
	buf.Flush()
	resp := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("x", 1000000)
	t := time.NewTicker(z.opts.TricklePeriod)
	defer t.Stop()
	for i := 0; i < len(resp); i++ {
		if _, err := c.Write([]byte{resp[i]}); err != nil {
			return
		}
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
}

// garbage answers with 64 KiB of random bytes and closes.
func (z *Zoo) garbage(w http.ResponseWriter) {
	c, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	b := make([]byte, 64<<10)
	rand.Read(b)
	buf.Write(b)
	buf.Flush()
}

// deepASN1 is n nested SEQUENCEs around a NULL, each with its exact length.
func deepASN1(n int) []byte {
	// Headers from the inside out (each wraps what is inside it), then
	// written from the outside in.
	headers := make([][]byte, n)
	inner := 2 // the NULL
	for i := range n {
		headers[i] = derHeader(inner)
		inner += len(headers[i])
	}
	out := make([]byte, 0, inner)
	for i := n - 1; i >= 0; i-- {
		out = append(out, headers[i]...)
	}
	return append(out, 0x05, 0x00)
}

func derHeader(l int) []byte {
	if l < 0x80 {
		return []byte{0x30, byte(l)}
	}
	var b []byte
	for v := l; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	return append([]byte{0x30, 0x80 | byte(len(b))}, b...)
}

// gzipBomb compresses n zero bytes (about 1 KiB per MiB).
func gzipBomb(n int64) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	zeros := make([]byte, 1<<20)
	for i := int64(0); i < n; i += int64(len(zeros)) {
		if _, err := zw.Write(zeros); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newCert makes a root and a 127.0.0.1 leaf it signed.
func newCert() (tls.Certificate, []byte, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zoo root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	root, _ = x509.ParseCertificate(rootDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "zoo"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, root, &key.PublicKey, rootKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), nil
}

// Kinds are the probe kinds Section can point at the zoo.
func Kinds() []string { return []string{"acme", "crl", "http", "ocsp", "tsa"} }

// Section is the probes.yaml section (flow style) that points a probe of
// kind at mode: https for acme (RFC 8555 wants it) and for StallTLS, plain
// http otherwise. It names files WriteFiles writes.
func (z *Zoo) Section(kind string, m Mode) string {
	u := z.URL(m, kind == "acme" || m == StallTLS)
	switch kind {
	case "http":
		return fmt.Sprintf("{url: %q, ca_file: zoo.pem, redirects: follow, json: [{path: status, equal: ok}]}", u)
	case "acme":
		return fmt.Sprintf("{directory: %q, roots: zoo.pem}", u)
	case "ocsp":
		return fmt.Sprintf("{url: %q, certificate: good.pem, issuer: issuer.pem, methods: [post, get]}", u+"ocsp")
	case "tsa":
		return fmt.Sprintf("{url: %q, roots: tsa-root.pem}", u+"tsa")
	case "crl":
		return fmt.Sprintf("{url: %q, issuer: issuer.pem}", u+"crl")
	}
	return ""
}

// WriteFiles writes the files Section names into dir: zoo.pem (the https
// listener's root) and a simulated CA's certificates (good.pem,
// issuer.pem, tsa-root.pem, ...) for the kinds that need an issuer.
func (z *Zoo) WriteFiles(dir string) error {
	sim, err := pkisim.New(pkisim.Options{Clock: clock.Real{}})
	if err != nil {
		return err
	}
	if err := sim.WriteFiles(dir); err != nil {
		return err
	}
	return z.WriteCA(filepath.Join(dir, "zoo.pem"))
}
