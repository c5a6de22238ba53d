package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Several holders on one PostgreSQL database each keep things in memory
// that are built from it (the public page's snapshot, the incident engine's
// component statuses). Follow tells a holder when any holder committed a
// change to them: at once through LISTEN on a connection of its own, and,
// while that connection is down, by polling a change counter twice a second.
// Both are fed by triggers (migrations/postgres/0071_changes.sql), so no
// write path can forget to announce itself. On SQLite there is one process,
// which hears of its own changes in memory: Follow has nothing to do.

// changesChannel is the channel the triggers notify.
const changesChannel = "probed_changes"

// listenerName is the application_name of the listening connection, as
// pg_stat_activity shows it.
const listenerName = "probed changes listener"

// FollowOptions tunes Follow; the zero value is production's.
type FollowOptions struct {
	// Poll is how often the change counter is read while the listening
	// connection is down (default 500ms: with the public page's rebuilds a
	// second apart, a change heard by polling is on the page within 1.5 s).
	Poll time.Duration
	// Keepalive is how long the listening connection may stay silent
	// before it is pinged: a connection the network lost answers nothing,
	// and only a ping finds it out (default 5s).
	Keepalive time.Duration
	// Retry is the wait before the first attempt to listen again (default
	// 1s); it doubles at each failed attempt up to MaxBackoff (default 30s).
	Retry      time.Duration
	MaxBackoff time.Duration
	// NoListen polls only, never listening (tests of the fallback: a
	// listening connection killed on the server is replaced at once).
	NoListen bool
}

// Follow calls changed whenever a change to an incident, a maintenance, a
// component's status or an alert is committed on the database, by this
// holder or another, until ctx ends or the store closes. On SQLite it
// returns at once. changed must be quick (Site.Invalidate).
//
// While the listening connection is down, Follow polls the change counter
// every opts.Poll and tries to listen again after opts.Retry, then twice as
// long each time up to opts.MaxBackoff; it logs the loss (WARN) and the
// return (INFO) once each, and calls changed when it listens again, for
// what it may have missed. When neither a new connection nor the readers
// reach the server, the store has ProblemUnreachable (ERROR, /readyz
// fails) until one does.
func (s *Store) Follow(ctx context.Context, opts FollowOptions, changed func()) error {
	if !s.pg {
		return nil
	}
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
	}
	if opts.Keepalive <= 0 {
		opts.Keepalive = 5 * time.Second
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.Retry)
	ctx, done, err := s.loop(ctx)
	if err != nil {
		return fmt.Errorf("follow changes: %w", err)
	}
	defer done()
	f := &follower{s: s, opts: opts, changed: changed, version: -1}
	f.run(ctx)
	return nil
}

type follower struct {
	s       *Store
	opts    FollowOptions
	changed func()
	version int64 // the change counter last read; -1 before the first read
	lost    bool  // the listening connection is down (logged once)
}

func (f *follower) run(ctx context.Context) {
	s := f.s
	if f.opts.NoListen {
		s.logger.Warn("not listening for other holders' changes: polling the change counter (listening disabled)", "db", s.where, "poll", f.opts.Poll)
		f.read(ctx)
		for ctx.Err() == nil {
			f.pollFor(ctx, time.Hour, false)
		}
		return
	}
	backoff := f.opts.Retry
	for ctx.Err() == nil {
		_, turned := s.pgsrv.generation()
		conn, err := f.listen(ctx)
		if err == nil {
			if f.lost {
				s.logger.Info("listening for other holders' changes again", "db", s.where)
				f.lost = false
			}
			s.m.listening.Set(1)
			s.setProblem(ProblemUnreachable, "")
			// Whatever changed while nobody listened.
			f.read(ctx)
			f.changed()
			err = f.wait(ctx, conn, turned)
			s.m.listening.Set(0)
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			conn.Close(cctx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			backoff = f.opts.Retry
			if errors.Is(err, errTurned) {
				// Not a loss: listen at once, on the server a new
				// connection finds (the writable one, with a multi-host
				// DSN), and read everything again for what the old one
				// never heard.
				s.logger.Debug("listening for other holders' changes on a new connection: the server turned read-only", "db", s.where)
				continue
			}
		}
		s.m.listenErrs.Inc()
		if !f.lost {
			s.logger.Warn("not listening for other holders' changes: polling the change counter until the connection is back",
				"db", s.where, "poll", f.opts.Poll, "err", err)
			f.lost = true
			// At once: the server may be gone too (ProblemUnreachable),
			// and a change may have been missed.
			if before := f.version; f.read(ctx) && before >= 0 && f.version != before {
				s.m.changes.WithLabelValues("poll").Inc()
				f.changed()
			}
		}
		// A timeout of the listening connection's own (connect, LISTEN,
		// ping) is the server not answering too.
		f.pollFor(ctx, backoff, postgresUnreachable(err) || errors.Is(err, context.DeadlineExceeded))
		backoff = min(backoff*2, f.opts.MaxBackoff)
	}
}

// listen opens a connection of its own and LISTENs on it.
func (f *follower) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg := f.s.pgcfg.Copy()
	cfg.RuntimeParams["application_name"] = listenerName
	if cfg.ConnectTimeout <= 0 || cfg.ConnectTimeout > defaultConnectTimeout {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(lctx, "LISTEN "+changesChannel); err != nil {
		conn.Close(lctx)
		return nil, err
	}
	return conn, nil
}

// errTurned ends wait when a connection of the store found the server
// turned read-only (pgServer): the listening one may be on that server, which
// hears no more of the writes.
var errTurned = errors.New("the server turned read-only")

// pingWait bounds the listening connection's ping: a server that answers
// pings in 2 s answers; one that does not is cut off or stuck.
const pingWait = 2 * time.Second

// wait calls changed for every notification until the connection fails
// (its error), the server turns read-only (turned is closed: errTurned) or
// ctx ends (nil). A silent connection is pinged every Keepalive: a dead one
// fails the ping (within pingWait, or Keepalive if shorter).
func (f *follower) wait(ctx context.Context, conn *pgx.Conn, turned <-chan struct{}) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		select {
		case <-turned:
			stop(errTurned)
		case <-ctx.Done():
		}
	}()
	for {
		wctx, cancel := context.WithTimeout(ctx, f.opts.Keepalive)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			f.s.m.changes.WithLabelValues("notify").Inc()
			f.changed()
			continue
		case errors.Is(context.Cause(ctx), errTurned):
			return errTurned
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, min(f.opts.Keepalive, pingWait))
			err = conn.Ping(pctx)
			cancel()
			if err == nil || ctx.Err() != nil {
				continue
			}
		}
		return fmt.Errorf("listen for changes on %s: %w", f.s.where, err)
	}
}

// pollFor reads the change counter every Poll for d, calling changed when
// it moved. It returns early when the server answers again after it did not
// (a poll, or the listening connection when unreachable says so): listening
// is likely to work again too.
func (f *follower) pollFor(ctx context.Context, d time.Duration, unreachable bool) {
	t := time.NewTicker(f.opts.Poll)
	defer t.Stop()
	end := time.NewTimer(d)
	defer end.Stop()
	unanswered := unreachable
	for {
		select {
		case <-ctx.Done():
			return
		case <-end.C:
			return
		case <-t.C:
		}
		before := f.version
		if !f.read(ctx) {
			unanswered = true
			continue
		}
		if before >= 0 && f.version != before {
			f.s.m.changes.WithLabelValues("poll").Inc()
			f.changed()
		}
		if unanswered {
			return
		}
	}
}

// read reads the change counter into f.version; false when the server
// does not answer (ProblemUnreachable until it does).
func (f *follower) read(ctx context.Context) bool {
	rctx, cancel := context.WithTimeout(ctx, max(f.opts.Poll, time.Second))
	defer cancel()
	v, err := f.s.ChangeVersion(rctx)
	if err != nil {
		if ctx.Err() == nil {
			f.s.setProblem(ProblemUnreachable, "the PostgreSQL server does not answer: "+err.Error())
		}
		return false
	}
	f.s.setProblem(ProblemUnreachable, "")
	f.version = v
	return true
}

// ChangeVersion is the number of changes committed to what Follow watches
// (PostgreSQL; 0 on SQLite and before the first change).
func (s *Store) ChangeVersion(ctx context.Context) (int64, error) {
	if !s.pg {
		return 0, nil
	}
	var v int64
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM store_changes`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read the change counter of %s: %w", s.where, err)
	}
	return v, nil
}

// registerFollow registers Follow's metrics (PostgreSQL only).
func (s *Store) registerFollow(reg prometheus.Registerer) {
	f := promauto.With(reg)
	s.m.listening = f.NewGauge(prometheus.GaugeOpts{Name: "probed_store_listening",
		Help: "1 while this holder listens for the changes other holders commit (PostgreSQL); 0 while it polls for them instead."})
	s.m.listenErrs = f.NewCounter(prometheus.CounterOpts{Name: "probed_store_listen_failures_total",
		Help: "Times the connection listening for other holders' changes failed or could not be opened (PostgreSQL)."})
	s.m.changes = f.NewCounterVec(prometheus.CounterOpts{Name: "probed_store_changes_heard_total",
		Help: "Committed changes heard of (PostgreSQL), by how: notify (LISTEN) or poll (the change counter, while not listening)."}, []string{"via"})
	for _, v := range []string{"notify", "poll"} {
		s.m.changes.WithLabelValues(v)
	}
}
