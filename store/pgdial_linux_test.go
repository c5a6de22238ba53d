package store

import (
	"context"
	"database/sql"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"
)

// Every connection of the store to PostgreSQL carries the kernel's bounds:
// keepalives (5 s idle, every 5 s, 3 probes) and TCP_USER_TIMEOUT (20 s),
// read back from the sockets of a reader, the writer, the lease's connection
// and one opened with the change listener's configuration, and the server's
// side of them on the store's sessions (tcp_keepalives_*, tcp_user_timeout).
// pgtest.Proxy cannot trip them (its kernel acknowledges everything), so
// this is what shows them set.
func TestPostgresConnectionsCarryKernelBounds(t *testing.T) {
	s, _, _ := testStore(t, Options{Driver: "postgres", DSN: pg.DSN(t)})
	ctx := context.Background()
	check := func(what string, nc net.Conn) {
		t.Helper()
		tc, ok := nc.(*net.TCPConn)
		if !ok {
			t.Fatalf("%s: %T, want a TCP connection", what, nc)
		}
		raw, err := tc.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		raw.Control(func(fd uintptr) {
			for _, o := range []struct {
				name       string
				level, opt int
			}{
				{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE},
				{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
				{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
				{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
				{"TCP_USER_TIMEOUT", unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT},
			} {
				v, err := unix.GetsockoptInt(int(fd), o.level, o.opt)
				if err != nil {
					t.Errorf("%s: getsockopt %s: %v", what, o.name, err)
				}
				got[o.name] = v
			}
		})
		want := map[string]int{"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": int(pgKeepaliveIdle / time.Second), "TCP_KEEPINTVL": int(pgKeepaliveEvery / time.Second),
			"TCP_KEEPCNT": pgKeepaliveCount, "TCP_USER_TIMEOUT": int(pgUserTimeout / time.Millisecond)}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %d, want %d", what, k, got[k], v)
			}
		}
	}
	for what, db := range map[string]*sql.DB{"a reader": s.r, "the writer": s.w, "the lease's connection": s.l} {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The server's side of the same bounds (a session parameter each).
		for name, want := range map[string]string{"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3", "tcp_user_timeout": "20000"} {
			var got string
			if err := c.QueryRowContext(ctx, `SHOW `+name).Scan(&got); err != nil {
				t.Fatalf("%s: SHOW %s: %v", what, name, err)
			}
			if got != want {
				t.Errorf("%s: the server's %s = %s, want %s", what, name, got, want)
			}
		}
		err = c.Raw(func(dc any) error {
			check(what, dc.(rebindConn).Conn.Conn().PgConn().Conn())
			return nil
		})
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	lc, err := pgx.ConnectConfig(ctx, s.pgcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close(ctx)
	check("the change listener's configuration", lc.PgConn().Conn())
}
