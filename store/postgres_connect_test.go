package store

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// A server that accepts the connection and never answers (hung, or behind
// a network that dropped it) fails Open within the default connect
// timeout, naming the server, instead of holding it for as long as TCP
// retries.
func TestPostgresSilentServerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Open(ctx, Options{Driver: "postgres", DSN: fmt.Sprintf("host=127.0.0.1 port=%d user=probed dbname=probed sslmode=disable", port)})
	took := time.Since(start)
	if err == nil {
		t.Fatal("Open succeeded on a server that never answers")
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Errorf("error %q does not name the server", err)
	}
	if took > defaultConnectTimeout+5*time.Second {
		t.Errorf("Open gave up after %s, want about the connect timeout (%s)", took.Round(time.Millisecond), defaultConnectTimeout)
	}
	t.Logf("Open on a silent server: %s: %v", took.Round(time.Millisecond), err)
}
