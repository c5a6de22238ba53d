package probes

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"syscall"
)

// A run's connections. net/http runs a dial on a context it detaches from
// the request (context.WithoutCancel, so that another request could use the
// connection), and a TLS handshake on that context too, bounded only by
// Transport.TLSHandshakeTimeout: a server that accepts and never answers
// kept a socket and two goroutines per run, forever. Here every dial and
// handshake is bounded by the run's own context, the transport is closed
// when the run ends (CloseIdleConnections also cancels a dial nobody waits
// for), and a dial refused by probed's own limits (out of file descriptors)
// is recorded as probed's failure, not the target's.

// runTransportOpts says how one run's transport connects.
type runTransportOpts struct {
	// tlsConfig returns the client TLS configuration for one handshake
	// with serverName (the URL's host). Nil: Go's defaults, system roots.
	tlsConfig func(serverName string) *tls.Config
	// follow says whether redirects are followed (http(s) only, at most
	// maxRedirects).
	follow bool
	// gzip asks for compressed bodies (Accept-Encoding: gzip) and inflates
	// them, the limit applying to the inflated bytes. Only web pages want
	// it: a DER answer gains nothing, and a gzip bomb costs the whole limit.
	gzip bool
}

// newRunClient returns the client of one run and the function that closes
// every connection it made; call it when the run ends. Dials and handshakes
// end with ctx (the run's). With env.Dialer.Transport set (tests), that
// transport is used as is and closing it is the caller's business.
func newRunClient(ctx context.Context, r *Report, env Env, o runTransportOpts) (*http.Client, func()) {
	if env.Dialer.Transport != nil {
		return &http.Client{Transport: env.Dialer.Transport, CheckRedirect: checkRedirect(o.follow)}, func() {}
	}
	d := &runDialer{run: ctx, r: r, tlsConfig: o.tlsConfig, net: &net.Dialer{KeepAlive: -1}}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.dial,
		DialTLSContext:         d.dialTLS,
		DisableKeepAlives:      true,
		DisableCompression:     !o.gzip,
		ForceAttemptHTTP2:      false,
		MaxResponseHeaderBytes: 64 << 10,
		// No TLSHandshakeTimeout: with DialTLSContext set, net/http never
		// runs a handshake itself; dialTLS runs it on the run's context.
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect(o.follow)}, tr.CloseIdleConnections
}

// runDialer dials for one run.
type runDialer struct {
	run       context.Context
	r         *Report
	tlsConfig func(serverName string) *tls.Config
	net       *net.Dialer
}

// bound returns a context that ends when either the dial's context (which
// carries the request's trace) or the run's does.
func (d *runDialer) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(d.run, func() { cancel(context.Cause(d.run)) })
	if dl, ok := d.run.Deadline(); ok {
		var cancelDL context.CancelFunc
		ctx, cancelDL = context.WithDeadline(ctx, dl)
		return ctx, func() { cancelDL(); stop(); cancel(nil) }
	}
	return ctx, func() { stop(); cancel(nil) }
}

func (d *runDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	conn, err := d.net.DialContext(ctx, network, addr)
	if err != nil {
		if reason := ownLimit(err); reason != "" {
			d.r.internalFailure(reason, fmt.Errorf("dial %s: %w", addr, err))
		}
		return nil, err
	}
	return conn, nil
}

func (d *runDialer) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		conn.Close()
		return nil, err
	}
	var conf *tls.Config
	if d.tlsConfig != nil {
		conf = d.tlsConfig(host)
	} else {
		conf = &tls.Config{ServerName: host}
	}
	hctx, cancel := d.bound(ctx)
	defer cancel()
	tc := tls.Client(conn, conf)
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.TLSHandshakeStart != nil {
		trace.TLSHandshakeStart()
	}
	err = tc.HandshakeContext(hctx)
	if trace != nil && trace.TLSHandshakeDone != nil {
		trace.TLSHandshakeDone(tc.ConnectionState(), err)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// ownLimit names the limit of probed's own that refused a dial ("" when the
// error is the target's or the network's): out of file descriptors (this
// process's or the system's), of kernel memory for sockets, or of local
// ports.
func ownLimit(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE):
		return InternalFileDescriptors
	case errors.Is(err, syscall.ENFILE):
		return InternalSystemFileDescriptors
	case errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.ENOMEM):
		return InternalSocketMemory
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		// probed binds no local address: a connect refused so ran out
		// of ephemeral ports on this host.
		return InternalLocalPorts
	}
	return ""
}

// readBody reads at most limit bytes of a response body. The buffer grows
// with what arrives, never from a length the peer announced: announced (a
// Content-Length, -1 when unknown) only caps a growth step, so a truthful
// length costs one last allocation of its exact size and a lying one costs
// nothing. tooLarge is true when the body had more than limit.
func readBody(body io.Reader, announced, limit int64) (data []byte, tooLarge bool, err error) {
	buf := make([]byte, 0, min(512, limit+1))
	for {
		if int64(len(buf)) > limit {
			return buf[:limit], true, nil
		}
		if len(buf) == cap(buf) {
			next := int64(2 * cap(buf))
			if announced > int64(len(buf)) && announced < next {
				next = announced + 1 // +1: the read that sees EOF
			}
			next = min(next, limit+1)
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, rerr := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			if int64(len(buf)) > limit {
				return buf[:limit], true, nil
			}
			return buf, false, nil
		}
		if rerr != nil {
			return buf, false, rerr
		}
	}
}

// limitBodies caps every response body at limit bytes, for a library that
// reads bodies itself (acme.Client decodes JSON straight off the wire):
// past the limit a read fails with errBodyTooLarge.
func limitBodies(c *http.Client, limit int64) *http.Client {
	out := *c
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	out.Transport = limitedTransport{rt: rt, limit: limit}
	return &out
}

type limitedTransport struct {
	rt    http.RoundTripper
	limit int64
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.limit}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, err := b.ReadCloser.Read(one[:]); n == 0 {
			return 0, err
		}
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
