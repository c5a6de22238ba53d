package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"

	"github.com/probed/probed/config"
	"github.com/probed/probed/store"
	"github.com/probed/probed/web"
)

// Leadership. Every holder serves the page, the APIs and the console and
// accepts operator writes; what must happen once — the incident engine's
// drafting, withdrawing, resolve proposals and maintenance steps, fanning
// events out and sending mail, the store's housekeeping — is the leader's
// duty. On SQLite the one process leads for as long as it runs. On
// PostgreSQL the holders share a lease (store.Lead): the leader renews it
// every third of storage.lease_ttl and runs its duties under a context
// fenced with the lease's epoch, so that a write it makes after losing the
// lease is refused (store.ErrDeposed); it stops its duties at once when a
// renewal finds the lease gone, or a tenth of the ttl before the lease
// could expire unrenewed; followers try to take the lease every quarter of the ttl and,
// each time they find it taken, reload the incident engine's view (the
// component health and locations their console and /metrics show) from
// what the leader wrote.

// holderName is the holder's name in the lease: storage.holder, or the
// host name and process id.
func holderName(cfg *config.Config) string {
	if cfg.Storage.Holder != "" {
		return cfg.Storage.Holder
	}
	return hostName() + ":" + strconv.Itoa(os.Getpid())
}

// hostName is the host's name, or probed when it has none.
func hostName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "probed"
	}
	return host
}

// runHolder names this process's runs in the store's heartbeat rows, so
// that a holder's start reports only its own unclean stop: "" on SQLite
// (one process per file); with several holders storage.holder, or the
// host name alone (the process id of holderName changes at every
// restart, which would hide the restart's own previous run).
func runHolder(cfg *config.Config) string {
	switch {
	case !shared(cfg):
		return ""
	case cfg.Storage.Holder != "":
		return cfg.Storage.Holder
	}
	return hostName()
}

// shared tells several holders may share the store (PostgreSQL).
func shared(cfg *config.Config) bool { return cfg.Storage.Driver == config.StoragePostgres }

// leadership runs duties while this holder leads.
type leadership struct {
	st     *store.Store
	shared bool // several holders may share st (PostgreSQL): lead only while holding the lease
	holder string
	ttl    time.Duration
	logger *slog.Logger
	// duties runs the leader's work until ctx ends or it fails (a fenced
	// write refused).
	duties func(ctx context.Context) error
	// refresh, when set, brings a follower's view up to date with what the
	// leader wrote; it runs every time the follower finds the lease taken.
	refresh func(ctx context.Context) error

	epoch   atomic.Int64 // the epoch this holder leads at; 0 while it follows
	leader  prometheus.Gauge
	changes prometheus.Counter
	epochG  prometheus.Gauge
}

func newLeadership(reg prometheus.Registerer, st *store.Store, isShared bool, holder string, ttl time.Duration, logger *slog.Logger, duties func(context.Context) error) *leadership {
	f := promauto.With(reg)
	return &leadership{st: st, shared: isShared, holder: holder, ttl: ttl, logger: logger, duties: duties,
		leader: f.NewGauge(prometheus.GaugeOpts{Name: "probed_leader",
			Help: "Whether this holder leads (1): drafts, maintenance steps, housekeeping and mail are the leader's (always 1 on SQLite)."}),
		changes: f.NewCounter(prometheus.CounterOpts{Name: "probed_leader_changes_total",
			Help: "Times this holder took or lost the lead."}),
		epochG: f.NewGauge(prometheus.GaugeOpts{Name: "probed_leader_epoch",
			Help: "The leader lease's epoch (fencing token) this holder leads at; 0 while it follows."}),
	}
}

// Leading returns the epoch this holder leads at, 0 when it follows.
func (l *leadership) Leading() int64 { return l.epoch.Load() }

// run leads (SQLite: at once and until ctx ends) or follows, taking the
// lease when it is free, until ctx ends; then it resigns the lease, so that
// another holder leads without waiting for it to expire.
func (l *leadership) run(ctx context.Context) error {
	if !l.shared {
		l.set(1)
		err := l.duties(ctx)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	retry := l.ttl / 4
	var lastErr string
	for {
		tctx, cancel := context.WithTimeout(ctx, retry)
		asked := time.Now() // a lease taken now lasts ttl from after this, on the database's clock
		epoch, err := l.st.Lead(tctx, l.holder, l.ttl, 0)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if err.Error() != lastErr {
				if errors.Is(err, store.ErrSchemaNewer) {
					l.logger.Error("a newer probed migrated the database: this holder does not lead; stop it and upgrade it", "holder", l.holder, "err", err)
				} else {
					l.logger.Warn("cannot reach the leader lease; following, retried", "holder", l.holder, "err", err)
				}
				lastErr = err.Error()
			}
		case epoch == 0 && l.refresh != nil:
			rctx, rcancel := context.WithTimeout(ctx, retry)
			if err := l.refresh(rctx); err != nil && ctx.Err() == nil {
				l.logger.Debug("follower's view not refreshed; retried", "err", err)
			}
			rcancel()
		case epoch != 0:
			lastErr = ""
			l.term(ctx, epoch, asked)
			if ctx.Err() != nil {
				return nil
			}
			// Another holder may take it now; this one tries again after
			// a pause (duties that fail at once must not spin).
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// term leads at epoch, taken by a request sent at taken, until the lease
// is lost or ctx ends.
func (l *leadership) term(ctx context.Context, epoch int64, taken time.Time) {
	l.logger.Info("this holder leads now: it drafts, steps maintenances, keeps house and sends mail", "holder", l.holder, "epoch", epoch)
	l.set(epoch)
	lctx, cancel := context.WithCancel(store.Fenced(ctx, epoch))
	done := make(chan error, 1)
	go func() { done <- l.duties(lctx) }()
	// It stops a tenth of the lease before the lease could expire: the
	// expiry counts on the database from when a renewal ran there, after
	// it was sent; the margin keeps the stop ahead of the scheduler's
	// delays and of another holder's take.
	margin := l.ttl / 10
	valid := time.NewTimer(time.Until(taken.Add(l.ttl - margin)))
	renew := time.NewTicker(l.ttl / 3)
	var reason string
	var retaken int64 // an epoch a failed renewal took anew: given up below too
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-done:
			done = nil
			reason = fmt.Sprintf("its duties stopped: %v", err)
			break loop
		case <-valid.C:
			reason = fmt.Sprintf("the lease could not be renewed within %s: it may expire", l.ttl-margin)
			break loop
		case <-renew.C:
			start := time.Now()
			rctx, rcancel := context.WithDeadline(ctx, taken.Add(l.ttl-margin))
			got, err := l.st.Lead(rctx, l.holder, l.ttl, epoch)
			rcancel()
			switch {
			case err == nil && got == epoch:
				taken = start
				valid.Reset(time.Until(taken.Add(l.ttl - margin)))
			case err == nil:
				reason = "another holder took the lease"
				if got != 0 {
					reason = fmt.Sprintf("the lease expired unrenewed and was taken again at epoch %d", got)
					retaken = got
				}
				break loop
			case errors.Is(err, store.ErrSchemaNewer):
				// Its statements may not fit the schema any more: stop now,
				// not when the lease could expire.
				reason = err.Error()
				break loop
			case ctx.Err() == nil:
				l.logger.Warn("leader lease not renewed; still leading until it could expire", "holder", l.holder, "epoch", epoch,
					"stops_in", time.Until(taken.Add(l.ttl-margin)).Round(time.Millisecond), "err", err)
			}
		}
	}
	renew.Stop()
	valid.Stop()
	cancel()
	// It no longer leads from here, before its duties have wound down:
	// what they still finish (a send's outcome recorded under a timeout of
	// its own) is fenced, and refused once another holder has the lease;
	// probed_leader must not show two leaders meanwhile.
	l.set(0)
	if ctx.Err() == nil {
		l.logger.Warn("this holder no longer leads: it stopped drafting, maintenance steps, housekeeping and mail", "holder", l.holder, "epoch", epoch, "reason", reason)
	}
	if done != nil {
		<-done
	}
	// Give the lease up (if it is still at epoch) so that another holder
	// leads at once rather than when it expires.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	rerr := errors.Join(l.st.Resign(rctx, epoch), l.st.Resign(rctx, retaken))
	switch {
	case ctx.Err() == nil:
		if rerr != nil {
			l.logger.Debug("leader lease not given up; it expires by itself", "holder", l.holder, "epoch", epoch, "err", rerr)
		}
	case rerr != nil:
		l.logger.Warn("stopping: leader lease not given up; another holder leads once it expires", "holder", l.holder, "epoch", epoch, "err", rerr)
	default:
		l.logger.Info("stopping: this holder gave up the lead", "holder", l.holder, "epoch", epoch)
	}
}

func (l *leadership) set(epoch int64) {
	if (epoch != 0) != (l.epoch.Load() != 0) {
		l.changes.Inc()
	}
	l.epoch.Store(epoch)
	l.epochG.Set(float64(epoch))
	if epoch != 0 {
		l.leader.Set(1)
	} else {
		l.leader.Set(0)
	}
}

// status answers GET /-/leader.
func (l *leadership) status(ctx context.Context) (web.LeaderStatus, error) {
	cur, err := l.st.Leader(ctx)
	if err != nil {
		return web.LeaderStatus{}, err
	}
	return web.LeaderStatus{Holder: l.holder, Leading: l.Leading() != 0, Lease: cur}, nil
}

// leaderDuties is what the leader runs: the incident engine (from the
// database's state, which the previous leader left there), the delivery
// worker, the operator webhooks and the store's housekeeping. It returns when ctx ends or when
// one of them is deposed (store.ErrDeposed), stopping the others.
func (d *Daemon) leaderDuties(ctx context.Context) error {
	if shared(d.Config()) {
		if err := d.engine.Lead(ctx); err != nil {
			return err
		}
		defer d.engine.Follow()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.engine.Run(gctx) })
	g.Go(func() error { return d.notify.Run(gctx) })
	g.Go(func() error { d.opHooks.Run(gctx); return nil })
	g.Go(func() error { return d.store.Housekeep(gctx, 0) })
	err := g.Wait()
	if errors.Is(err, store.ErrDeposed) || ctx.Err() == nil {
		return err
	}
	return nil
}
