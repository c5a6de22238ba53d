// Package connlimit budgets the connections an HTTP listener holds: a cap
// in all and a cap per client address, so that idle or slow clients
// cannot take the file descriptors probed needs to probe.
//
// At a cap, a new connection first takes the place of the connection that
// has been idle longest (in all, or of the same client): an idle
// keep-alive connection costs its client nothing to reopen. When none is
// idle, the new one is answered "503 Service Unavailable" with
// Retry-After and closed, and counted. Wrap the listener, and set the
// server's ConnState to the Listener's so it knows which are idle.
package connlimit

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Options sets the caps. Zero means no cap.
type Options struct {
	Name      string // the listener's name in metrics: public, operator
	Max       int    // open connections in all
	PerClient int    // open connections per client address
	// Exempt are addresses the per-client cap does not apply to (trusted
	// reverse proxies, which carry many clients on their connections).
	Exempt []netip.Prefix
	// Registerer takes the listener's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
}

// Listener is a net.Listener with connection caps.
type Listener struct {
	net.Listener
	opts Options

	mu      sync.Mutex
	open    int
	perIP   map[netip.Addr]int
	idle    map[*conn]time.Time // conns between requests, since when
	conns   prometheus.Gauge
	refused *prometheus.CounterVec
	evicted prometheus.Counter
}

var _ net.Listener = (*Listener)(nil)

// Wrap caps ln.
func Wrap(ln net.Listener, o Options) *Listener {
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := promauto.With(reg)
	conns := f.NewGauge(prometheus.GaugeOpts{Name: "probed_http_connections", Help: "Connections the listener holds open.", ConstLabels: prometheus.Labels{"listener": o.Name}})
	refused := f.NewCounterVec(prometheus.CounterOpts{Name: "probed_http_connections_refused_total",
		Help: "Connections answered 503 and closed at once because the listener was at its cap (max) or the client at its own (per_client), with none idle to close instead.", ConstLabels: prometheus.Labels{"listener": o.Name}}, []string{"cap"})
	evicted := f.NewCounter(prometheus.CounterOpts{Name: "probed_http_connections_evicted_total",
		Help: "Idle keep-alive connections closed to make room for a new connection at a cap.", ConstLabels: prometheus.Labels{"listener": o.Name}})
	for _, c := range []string{"max", "per_client"} {
		refused.WithLabelValues(c)
	}
	return &Listener{Listener: ln, opts: o, perIP: map[netip.Addr]int{}, idle: map[*conn]time.Time{}, conns: conns, refused: refused, evicted: evicted}
}

// Accept returns the next connection within the caps; connections over a
// cap are answered and closed here, never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := addrOf(c.RemoteAddr())
		victims, capName := l.admit(ip)
		for _, v := range victims {
			v.Conn.Close() // the server sees the close as the idle conn's end
		}
		if capName != "" {
			l.refused.WithLabelValues(capName).Inc()
			refuse(c)
			continue
		}
		l.conns.Inc()
		return &conn{Conn: c, l: l, ip: ip, counted: true}, nil
	}
}

// admit takes a place for a connection from ip, closing idle connections
// to make one (returned to be closed outside the lock), or names the cap
// that refuses it.
func (l *Listener) admit(ip netip.Addr) (victims []*conn, refusedBy string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	perClient := l.opts.PerClient > 0 && !l.exempt(ip)
	if perClient && l.perIP[ip] >= l.opts.PerClient {
		v := l.oldestIdle(func(c *conn) bool { return c.ip == ip })
		if v == nil {
			return nil, "per_client"
		}
		victims = append(victims, v)
	}
	if l.opts.Max > 0 && l.open-len(victims) >= l.opts.Max {
		v := l.oldestIdle(func(*conn) bool { return true })
		if v == nil {
			// Put back a per-client victim: nothing is closed for a refusal.
			for _, v := range victims {
				l.release(v, false)
			}
			return nil, "max"
		}
		victims = append(victims, v)
	}
	for range victims {
		l.evicted.Inc()
	}
	l.open++
	l.perIP[ip]++
	return victims, ""
}

// oldestIdle takes the longest idle connection that match accepts out of
// the idle set and the counts (it is about to be closed). l.mu is held.
func (l *Listener) oldestIdle(match func(*conn) bool) *conn {
	var best *conn
	var since time.Time
	for c, t := range l.idle {
		if match(c) && (best == nil || t.Before(since)) {
			best, since = c, t
		}
	}
	if best != nil {
		l.release(best, true)
	}
	return best
}

// release drops c from the counts (take) or puts it back (!take, after an
// eviction that did not happen). l.mu is held.
func (l *Listener) release(c *conn, take bool) {
	if take {
		delete(l.idle, c)
		c.counted = false
		l.open--
		if l.perIP[c.ip]--; l.perIP[c.ip] <= 0 {
			delete(l.perIP, c.ip)
		}
		return
	}
	c.counted = true
	l.idle[c] = time.Now()
	l.open++
	l.perIP[c.ip]++
}

func (l *Listener) exempt(ip netip.Addr) bool {
	for _, p := range l.opts.Exempt {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ConnState is to be the server's ConnState: it tells the listener which
// connections are idle (between requests) and so may make room.
func (l *Listener) ConnState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !c.counted {
		return
	}
	if st == http.StateIdle {
		l.idle[c] = time.Now()
	} else {
		delete(l.idle, c)
	}
}

// Open is how many connections the listener holds.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// refuse answers a connection over a cap and closes it. The answer fits
// in a new socket's send buffer; the deadline only guards the accept loop.
func refuse(c net.Conn) {
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	const body = "probed: too many connections, retry shortly\n"
	c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body))
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// conn gives its place back when closed.
type conn struct {
	net.Conn
	l       *Listener
	ip      netip.Addr
	once    sync.Once
	counted bool // holds a place (false once evicted)
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.counted {
			c.l.release(c, true)
		}
		c.l.mu.Unlock()
		c.l.conns.Dec()
	})
	return err
}
