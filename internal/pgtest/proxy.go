package pgtest

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Proxy is a loopback TCP proxy in front of a server (PostgreSQL here, but
// it forwards bytes and knows nothing of them) that a test can cut: Cut
// makes the path between its clients and the server vanish without
// refusing anything, as a network partition does (packets dropped, no RST,
// no FIN): bytes stop flowing both ways on the open connections, which stay
// open; a close on either side is not passed on; new connections are
// accepted (the kernel completes the handshake) and never answered. Restore
// brings the path back: what was held is forwarded, new connections reach
// the server, closes are passed on. A client notices the cut only by a
// deadline of its own.
//
// What the proxy cannot show is the kernel's side of a real partition: the
// client's kernel talks to the proxy's, which acknowledges every segment and
// every keepalive, so TCP keepalives and TCP_USER_TIMEOUT never fire here.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	up     chan struct{} // closed while the path is up
	closed chan struct{} // closed by Close
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	once   sync.Once
	total  int // connections accepted
}

// NewProxy starts a proxy on a loopback port forwarding to target
// (host:port); it is closed when t ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	up := make(chan struct{})
	close(up)
	p := &Proxy{ln: ln, target: target, up: up, closed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Proxy starts a proxy in front of s (see NewProxy).
func (s *Server) Proxy(t testing.TB) *Proxy {
	t.Helper()
	if s.port == 0 {
		t.Fatal("pgtest: Proxy: the server has not started (call DSN first)")
	}
	return NewProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
}

// Port is the proxy's loopback port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// DSN returns dsn (a key=value DSN of this package's servers) with its port
// replaced by the proxy's: the same database, reached through the proxy.
func (p *Proxy) DSN(t testing.TB, dsn string) string {
	t.Helper()
	f := strings.Fields(dsn)
	n := 0
	for i, kv := range f {
		if strings.HasPrefix(kv, "port=") {
			f[i] = "port=" + strconv.Itoa(p.Port())
			n++
		}
	}
	if n != 1 {
		t.Fatalf("pgtest: proxy: %q has %d ports, want 1", dsn, n)
	}
	return strings.Join(f, " ")
}

// Cut stops the path: see Proxy.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.up:
		p.up = make(chan struct{})
	default: // already cut
	}
}

// Restore brings the path back: see Proxy.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.up:
	default:
		close(p.up)
	}
}

// Accepted is the number of connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// Close stops the proxy and closes every connection through it.
func (p *Proxy) Close() {
	p.once.Do(func() {
		p.mu.Lock()
		close(p.closed)
		p.ln.Close()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
}

// pass waits until the path is up; false when the proxy closes first.
func (p *Proxy) pass() bool {
	p.mu.Lock()
	up := p.up
	p.mu.Unlock()
	select {
	case <-up:
		return true
	case <-p.closed:
		return false
	}
}

// track registers c to be closed by Close; false when the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		c.Close()
		return false
	default:
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.total++
		p.mu.Unlock()
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve connects client c to the target once the path is up and copies
// both ways until both directions end.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer p.untrack(c)
	if !p.pass() { // accepted, never answered while cut
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return // the client sees its connection closed, as a refusal
	}
	if !p.track(s) {
		return
	}
	defer p.untrack(s)
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.copy(s, c) }()
	go func() { defer both.Done(); p.copy(c, s) }()
	both.Wait()
}

// copy forwards src to dst while the path is up; bytes read while it is cut
// wait for Restore. The end of src (a close) is passed on as a half-close
// the same way; a write that fails ends both.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				dst.Close()
				return
			}
		}
		if err != nil {
			if !p.pass() {
				return
			}
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
					return
				}
			}
			dst.Close()
			return
		}
	}
}
