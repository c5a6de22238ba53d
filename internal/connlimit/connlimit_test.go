package connlimit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// serve starts a real http.Server on a capped loopback listener.
func serve(t *testing.T, o Options) (*Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(ln, o)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), ConnState: l.ConnState}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l, ln.Addr().String()
}

// dialFrom connects from a given loopback address (127.0.0.0/8 is all local).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends one keep-alive request on c and returns the status code, or 0
// when the connection was closed instead.
func get(t *testing.T, c net.Conn) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// answer reads what the server says on a connection it accepted without
// a request: a 503 at a cap.
func answer(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

func waitOpen(t *testing.T, l *Listener, n int) {
	t.Helper()
	waitFor(t, "the listener to hold "+strconv.Itoa(n)+" connections", func() bool { return l.Open() == n })
}

// waitIdle waits until the listener counts n connections idle.
func waitIdle(t *testing.T, l *Listener, n int) {
	t.Helper()
	waitFor(t, strconv.Itoa(n)+" idle connections", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.idle) == n
	})
}

// waitFor polls cond on a ticker until it holds, failing after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// A client at its cap whose connections are idle gets its oldest closed to
// make room; one whose connections are all busy (or silent) is refused with
// a 503; the same at the listener's own cap; trusted proxies are exempt
// from the per-client cap; places free up when connections close.
func TestCaps(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, addr := serve(t, Options{Name: "public", Max: 4, PerClient: 2, Registerer: reg, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}})

	// Per client: two idle keep-alive connections, then a third evicts the oldest.
	// The server marks a connection idle after it has written the answer,
	// which the client may read first: wait for each mark, so which one is
	// the oldest is settled and not a race with the server's goroutines.
	a1, a2 := dialFrom(t, "127.0.0.2", addr), dialFrom(t, "127.0.0.2", addr)
	if get(t, a1) != 200 {
		t.Fatal("first connection not served")
	}
	waitIdle(t, l, 1)
	if get(t, a2) != 200 {
		t.Fatal("second connection not served")
	}
	waitIdle(t, l, 2)
	a3 := dialFrom(t, "127.0.0.2", addr)
	if got := get(t, a3); got != 200 {
		t.Fatalf("third connection of an idle client: %d, want 200", got)
	}
	waitIdle(t, l, 2) // a2 and a3
	if got := get(t, a1); got != 0 {
		t.Fatalf("the oldest idle connection still answers %d; want it closed", got)
	}
	if got := testutil.ToFloat64(l.evicted); got != 1 {
		t.Errorf("evicted = %v, want 1", got)
	}
	waitOpen(t, l, 2)

	// Per client, nothing idle: silent connections hold their places.
	b1, b2 := dialFrom(t, "127.0.0.3", addr), dialFrom(t, "127.0.0.3", addr)
	_, _ = b1, b2
	waitOpen(t, l, 4)
	if got := answer(t, dialFrom(t, "127.0.0.3", addr)); !strings.HasPrefix(got, "HTTP/1.1 503 ") || !strings.Contains(got, "Retry-After: 5") {
		t.Fatalf("over the per-client cap: %q", got)
	}
	if got := testutil.ToFloat64(l.refused.WithLabelValues("per_client")); got != 1 {
		t.Errorf(`refused{cap="per_client"} = %v, want 1`, got)
	}

	// The listener's cap: a2 and a3 are idle, so a newcomer takes a2's place...
	c1 := dialFrom(t, "127.0.0.4", addr)
	if get(t, c1) != 200 {
		t.Fatal("a newcomer at the cap with idle connections around was not served")
	}
	waitIdle(t, l, 2) // a3 and c1
	// ...silent newcomers take a3's and c1's; then none is idle and the
	// next is refused.
	c2 := dialFrom(t, "127.0.0.5", addr)
	c3 := dialFrom(t, "127.0.0.7", addr)
	waitFor(t, "two more evictions", func() bool { return testutil.ToFloat64(l.evicted) == 4 })
	waitOpen(t, l, 4)
	if got := answer(t, dialFrom(t, "127.0.0.6", addr)); !strings.HasPrefix(got, "HTTP/1.1 503 ") {
		t.Fatalf("over the listener's cap: %q", got)
	}
	if got := testutil.ToFloat64(l.refused.WithLabelValues("max")); got != 1 {
		t.Errorf(`refused{cap="max"} = %v, want 1`, got)
	}

	// Places come back when connections close.
	b1.Close()
	b2.Close()
	c2.Close()
	c3.Close()
	waitOpen(t, l, 0)
	// A trusted proxy is held to the listener's cap only.
	p1, p2, p3 := dialFrom(t, "127.0.0.9", addr), dialFrom(t, "127.0.0.9", addr), dialFrom(t, "127.0.0.9", addr)
	for _, c := range []net.Conn{p1, p2, p3} {
		if got := get(t, c); got != 200 {
			t.Fatalf("a trusted proxy's connection: %d", got)
		}
	}
	if got := testutil.ToFloat64(l.conns); got != 3 {
		t.Errorf("probed_http_connections = %v, want 3", got)
	}
}
