package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// How long the store waits on PostgreSQL. A server the network lost
// refuses nothing and answers nothing: without bounds a statement sent to it
// waits for as long as TCP retransmits (15 minutes on Linux), holding its
// connection and its caller. Three bounds end such a wait:
//
//   - a new connection: connect_timeout (5 s when the DSN sets none);
//   - a statement: its caller's deadline, or, when the caller set none,
//     pgStatementBound (30 s). A call that may rightly take longer
//     (migrations, housekeeping, store migrate) says so with long(ctx) and is
//     bounded by the kernel instead. A connection that timed out is closed,
//     never reused; the error is noAnswerError, which the store reads as the
//     server unreachable (ErrUnavailable, ProblemUnwritable, retried);
//   - the kernel, whatever waits on the connection: TCP keepalives probe an
//     idle connection after 5 s, every 5 s, and TCP_USER_TIMEOUT ends a
//     connection whose data or probes the server has not acknowledged for
//     20 s (dialPostgres).
//
// A pooled connection idle for over a second is pinged before it is used
// again, within pgPingBound (5 s, or the statement bound if shorter), so one
// the network lost is found out there.
//
// The server's side: a holder cut off in the middle of a transaction leaves
// it open on the server, which sees a quiet client, not a dead one, and
// would keep its locks for as long as its own TCP keepalives take (two
// hours by default). A fenced transaction holds the leader lease's row, so
// no other holder could lead meanwhile. idle_in_transaction_session_timeout
// (pgIdleInTx, 10 s, the default lease_ttl) ends such a session; the store's
// transactions never wait on anything but the database between statements.

// pgStatementBound bounds a statement whose caller set no deadline.
const pgStatementBound = 30 * time.Second

// pgPingBound bounds the ping of a pooled connection before its reuse.
const pgPingBound = 5 * time.Second

// pgIdleInTx is the server's idle_in_transaction_session_timeout for the
// store's sessions (when the DSN sets none).
const pgIdleInTx = 10 * time.Second

// Kernel bounds on every connection to the server (see above).
const (
	pgKeepaliveIdle  = 5 * time.Second
	pgKeepaliveEvery = 5 * time.Second
	pgKeepaliveCount = 3
	pgUserTimeout    = 20 * time.Second
)

// dialPostgres dials the server with TCP keepalives and TCP_USER_TIMEOUT set
// (see above); a unix socket is dialled as it is.
func dialPostgres(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: pgKeepaliveIdle, Interval: pgKeepaliveEvery, Count: pgKeepaliveCount},
		Control: func(network, _ string, c syscall.RawConn) error {
			if !strings.HasPrefix(network, "tcp") {
				return nil
			}
			return setUserTimeout(c, pgUserTimeout)
		},
	}
	return d.DialContext(ctx, network, addr)
}

type longKey struct{}

// long marks ctx as a call that may rightly run longer than
// pgStatementBound: its statements are bounded by its own deadline, if any,
// and by the kernel's (a dead peer), not by the store's.
func long(ctx context.Context) context.Context { return context.WithValue(ctx, longKey{}, true) }

// noAnswerError is the error of a statement, begin or commit the server did
// not answer within pgStatementBound (the caller set no deadline).
type noAnswerError struct{ after time.Duration }

func (e noAnswerError) Error() string {
	return fmt.Sprintf("no answer from the PostgreSQL server within %s (the network or the server is down)", e.after)
}

// errBound is the cause of a context pgServer.bounded ended.
var errBound = errors.New("statement bound")

// pgServer is what one store's connections share about the server: how long
// a statement without a deadline may wait, and a generation, one more each
// time a connection finds the server turned read-only under it (25006: a
// primary demoted, or made read-only, after a failover). Every connection of
// an older generation is given up when it is next pooled or used (IsValid,
// ResetSession), and the change listener listens anew: reads and
// notifications follow the writes to the server that a multi-host DSN
// (target_session_attrs=read-write) finds writable, instead of staying with
// the old one and reading what it no longer receives.
type pgServer struct {
	bound time.Duration // a statement without a deadline (0: pgStatementBound)

	mu     sync.Mutex
	gen    int64
	turned chan struct{} // closed when gen moves on
}

func newPGServer(bound time.Duration) *pgServer {
	if bound <= 0 {
		bound = pgStatementBound
	}
	return &pgServer{bound: bound, turned: make(chan struct{})}
}

// generation returns the current generation and a channel closed when it
// moves on.
func (p *pgServer) generation() (int64, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen, p.turned
}

// turnedReadOnly moves the generation on from gen, once per generation: a
// connection of generation gen found the server read-only.
func (p *pgServer) turnedReadOnly(gen int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.gen {
		return // another connection of that generation said it first
	}
	p.gen++
	close(p.turned)
	p.turned = make(chan struct{})
}

// bounded returns ctx bounded by d when it has no deadline and is not long.
func (p *pgServer) bounded(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || ctx.Value(longKey{}) != nil {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, d, errBound)
}

// answer replaces err by noAnswerError when bctx, made by bounded, ended it.
func (p *pgServer) answer(bctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(bctx), errBound) {
		return noAnswerError{p.bound}
	}
	return err
}

// Each bounded call of rebindConn below runs the embedded connection's
// method under bounded(ctx) and translates its timeout with answer.

// IsValid is database/sql's question before it pools the connection again.
func (c rebindConn) IsValid() bool { return !c.stale() && !c.Conn.Conn().IsClosed() }

// stale tells a connection that found the server read-only, or is older
// than the last time one did.
func (c rebindConn) stale() bool {
	gen, _ := c.srv.generation()
	return c.readOnly.Load() || gen != c.gen
}

// ResetSession runs before a pooled connection is used again: a stale one
// is given up, and one idle for over a second is pinged within pgPingBound.
func (c rebindConn) ResetSession(ctx context.Context) error {
	if c.stale() {
		return driver.ErrBadConn
	}
	ctx, cancel := c.srv.bounded(ctx, min(pgPingBound, c.srv.bound))
	defer cancel()
	return c.Conn.ResetSession(ctx)
}

func (c rebindConn) Ping(ctx context.Context) error {
	ctx, cancel := c.srv.bounded(ctx, min(pgPingBound, c.srv.bound))
	defer cancel()
	return c.Conn.Ping(ctx)
}

func (c rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	q := rebind(query)
	bctx, cancel := c.srv.bounded(ctx, c.srv.bound)
	defer cancel()
	st, err := c.Conn.PrepareContext(bctx, q)
	if err != nil {
		return nil, c.note(c.srv.answer(bctx, err))
	}
	return boundStmt{Stmt: st, c: c, query: q}, nil
}

func (c rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	bctx, cancel := c.srv.bounded(ctx, c.srv.bound)
	defer cancel()
	r, err := c.Conn.ExecContext(bctx, rebind(query), args)
	return r, c.note(c.srv.answer(bctx, err))
}

// QueryContext bounds the query and the reading of its rows, until Close.
func (c rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	bctx, cancel := c.srv.bounded(ctx, c.srv.bound)
	r, err := c.Conn.QueryContext(bctx, rebind(query), args)
	if err != nil {
		cancel()
		return nil, c.note(c.srv.answer(bctx, err))
	}
	sr, ok := r.(*stdlib.Rows)
	if !ok { // pgx's stdlib returns its own
		r.Close()
		cancel()
		return nil, fmt.Errorf("query: unexpected rows %T from pgx", r)
	}
	return &boundRows{Rows: sr, ctx: bctx, cancel: cancel, srv: c.srv}, nil
}

// BeginTx bounds BEGIN, and the transaction's COMMIT or ROLLBACK each in
// turn (pgx runs them under the context the transaction began with).
func (c rebindConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if _, ok := ctx.Deadline(); ok || ctx.Value(longKey{}) != nil {
		tx, err := c.Conn.BeginTx(ctx, opts)
		return tx, c.note(err)
	}
	tctx, cancel := context.WithCancelCause(ctx)
	bt := &boundTx{ctx: tctx, cancel: cancel, srv: c.srv}
	var tx driver.Tx
	err := bt.within(func() error {
		var err error
		tx, err = c.Conn.BeginTx(tctx, opts)
		return err
	})
	if err != nil {
		cancel(nil)
		return nil, c.note(err)
	}
	bt.Tx = tx
	return bt, nil
}

// boundStmt is a prepared statement run through its connection's bounds.
type boundStmt struct {
	driver.Stmt
	c     rebindConn
	query string // rebound: rebinding it again changes nothing
}

func (s boundStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}

func (s boundStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

// boundRows are pgx's rows (every optional interface kept) read under the
// query's bound, which Close releases.
type boundRows struct {
	*stdlib.Rows
	ctx    context.Context
	cancel context.CancelFunc
	srv    *pgServer
}

func (r *boundRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err == io.EOF {
		return err
	}
	return r.srv.answer(r.ctx, err)
}

func (r *boundRows) Close() error {
	err := r.Rows.Close()
	r.cancel()
	return r.srv.answer(r.ctx, err)
}

// boundTx is a transaction whose context (ctx, which pgx keeps for COMMIT
// and ROLLBACK) is cancelled when one of them waits longer than the bound.
type boundTx struct {
	driver.Tx
	ctx    context.Context
	cancel context.CancelCauseFunc
	srv    *pgServer
}

// within runs f with ctx cancelled if it takes longer than the bound.
func (t *boundTx) within(f func() error) error {
	timer := time.AfterFunc(t.srv.bound, func() { t.cancel(errBound) })
	err := f()
	timer.Stop()
	return t.srv.answer(t.ctx, err)
}

func (t *boundTx) Commit() error {
	defer t.cancel(nil)
	return t.within(t.Tx.Commit)
}

func (t *boundTx) Rollback() error {
	defer t.cancel(nil)
	return t.within(t.Tx.Rollback)
}
