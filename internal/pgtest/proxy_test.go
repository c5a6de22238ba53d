package pgtest

import (
	"bufio"
	"errors"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer answers every line with the same line; it counts the
// connections it accepted and closes nothing until its client does.
func echoServer(t *testing.T) (addr string, accepted *atomic.Int64, closedByPeer chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int64)
	closedByPeer = make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						closedByPeer <- struct{}{}
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String(), accepted, closedByPeer
}

// say writes line on c and reads the answer, waiting at most wait.
func say(c net.Conn, r *bufio.Reader, line string, wait time.Duration) (string, error) {
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	defer c.SetReadDeadline(time.Time{})
	got, err := r.ReadString('\n')
	if len(got) > 0 {
		got = got[:len(got)-1]
	}
	return got, err
}

// A cut holds bytes both ways on an open connection, holds a new
// connection accepted but unanswered, and holds a close; Restore delivers
// all three. The silence is observed for a fixed 300 ms: what is asserted is
// that nothing arrives during the cut, which no condition can wait for.
func TestProxyCutHoldsAndRestoreDelivers(t *testing.T) {
	const silence = 300 * time.Millisecond
	addr, accepted, closedByPeer := echoServer(t)
	p := NewProxy(t, addr)
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p.Port()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	a, ar := dial()
	if got, err := say(a, ar, "before", 10*time.Second); err != nil || got != "before" {
		t.Fatalf("through the proxy = %q, %v; want the echo", got, err)
	}
	quitter, qr := dial()
	if got, err := say(quitter, qr, "hello", 10*time.Second); err != nil || got != "hello" {
		t.Fatalf("second connection = %q, %v", got, err)
	}

	p.Cut()
	if got, err := say(a, ar, "during", silence); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("an open connection during the cut answered %q, %v; want silence", got, err)
	}
	b, br := dial() // the kernel accepts it: the client cannot tell
	if got, err := say(b, br, "new", silence); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a new connection during the cut answered %q, %v; want silence", got, err)
	}
	if n := accepted.Load(); n != 2 {
		t.Fatalf("the server accepted %d connections during the cut, want the 2 from before", n)
	}
	quitter.Close()
	select {
	case <-closedByPeer:
		t.Fatal("a close during the cut reached the server")
	case <-time.After(silence):
	}
	if p.Accepted() != 3 {
		t.Fatalf("the proxy accepted %d connections, want 3", p.Accepted())
	}

	p.Restore()
	a.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := ar.ReadString('\n'); err != nil || got != "during\n" {
		t.Fatalf("after Restore, the held line = %q, %v; want it delivered", got, err)
	}
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := br.ReadString('\n'); err != nil || got != "new\n" {
		t.Fatalf("after Restore, the new connection's line = %q, %v; want it delivered", got, err)
	}
	select {
	case <-closedByPeer:
	case <-time.After(10 * time.Second):
		t.Fatal("the close held during the cut never reached the server")
	}
	if got, err := say(a, ar, "after", 10*time.Second); err != nil || got != "after" {
		t.Fatalf("after Restore = %q, %v", got, err)
	}
}
