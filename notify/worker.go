// Package notify tells subscribers about incidents and maintenance: the
// subscription flow (double opt-in, signed links, abuse limits), the mails
// and webhook payloads, and the delivery worker that fans each event out to
// an outbox in the store and sends it over SMTP or HTTP without losing any.
package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	gomail "github.com/wneessen/go-mail"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/store"
)

// Reasons of probed_notifications_failed_total: every failed attempt counts
// once under one of them.
const (
	ReasonTemporary        = "temporary"         // SMTP 4xx: retried
	ReasonConnection       = "connection"        // SMTP server unreachable or connection lost: retried
	ReasonPermanent        = "permanent"         // SMTP 5xx: not retried
	ReasonExpired          = "expired"           // still failing after notify.retry.give_up_after
	ReasonCompose          = "compose"           // the event's incident is gone: nothing to tell
	ReasonWebhookTemporary = "webhook_temporary" // webhook 408, 429, 5xx or no answer: retried
	ReasonWebhookPermanent = "webhook_permanent" // webhook 4xx or redirect: not retried
)

var failReasons = []string{ReasonTemporary, ReasonConnection, ReasonPermanent, ReasonExpired, ReasonCompose, ReasonWebhookTemporary, ReasonWebhookPermanent}

// WorkerOptions is what the delivery worker needs. Zero TLSConfig,
// Transport and Poll are production defaults.
type WorkerOptions struct {
	Store      *store.Store
	Config     func() *config.Config
	Links      *Links
	Clock      clock.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// TLSConfig is used for SMTP TLS (tests pass their own roots).
	TLSConfig *tls.Config
	// Transport posts webhooks.
	Transport http.RoundTripper
	// Poll is the longest the worker sleeps without being woken (default 5s).
	Poll time.Duration
}

// Worker fans events out to the outbox and delivers it. One Worker runs per
// database; its lease (a random run id) marks the rows it holds, so after a
// crash the next run knows which rows may have been sent already.
type Worker struct {
	opts  WorkerOptions
	lease string

	wake wakeup

	downMu    sync.Mutex
	downUntil time.Time // the SMTP relay failed to answer: no dialling before this
	downFails int

	storyMu sync.Mutex
	stories map[int64]*Story
	compMu  sync.Mutex
	compCfg *config.Config
	comp    *Composer

	pacer  pacer
	webhk  *http.Client
	done   chan struct{}
	doneMu sync.Once

	sent        prometheus.Counter
	failed      *prometheus.CounterVec
	redelivered prometheus.Counter
	fannedOut   prometheus.Counter
	quarantined prometheus.Counter
}

// NewWorker builds a worker; Run starts it.
func NewWorker(opts WorkerOptions) (*Worker, error) {
	if opts.Store == nil || opts.Config == nil || opts.Links == nil {
		return nil, errors.New("new worker: store, config and links are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	b := make([]byte, 8)
	rand.Read(b)
	w := &Worker{opts: opts, lease: hex.EncodeToString(b), stories: map[int64]*Story{}, done: make(chan struct{})}
	w.webhk = newWebhookClient(opts.Transport)
	f := promauto.With(opts.Registerer)
	opts.Registerer.MustRegister(countCollector{count: opts.Store.PendingDeliveries,
		desc: prometheus.NewDesc("probed_notifications_pending", "Notifications (mails and webhook posts) waiting in the outbox.", nil, nil)})
	w.sent = f.NewCounter(prometheus.CounterOpts{Name: "probed_notifications_sent_total", Help: "Notifications accepted by the SMTP server or webhook."})
	w.failed = f.NewCounterVec(prometheus.CounterOpts{Name: "probed_notifications_failed_total", Help: "Failed notification attempts, by reason (temporary ones are retried)."}, []string{"reason"})
	for _, r := range failReasons {
		w.failed.WithLabelValues(r)
	}
	w.redelivered = f.NewCounter(prometheus.CounterOpts{Name: "probed_notifications_redelivered_total",
		Help: "Notifications sent again whose previous attempt's outcome is unknown: a run that died had begun sending them (an upper bound on duplicates; retries after a known failure are in probed_notifications_failed_total)."})
	w.fannedOut = f.NewCounter(prometheus.CounterOpts{Name: "probed_notifications_fanned_out_total", Help: "Notifications written to the outbox by fan-out."})
	w.quarantined = f.NewCounter(prometheus.CounterOpts{Name: "probed_subscribers_quarantined_total", Help: "Subscribers quarantined after repeated failed deliveries."})
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "probed_notify_smtp_up", Help: "Whether the last SMTP connection attempt succeeded (1) or the relay is being waited for (0)."},
		func() float64 {
			if w.smtpDown() > 0 {
				return 0
			}
			return 1
		})
	opts.Registerer.MustRegister(&subscriberCollector{store: opts.Store,
		desc: prometheus.NewDesc("probed_subscribers", "Subscribers by state.", []string{"state"}, nil)})
	return w, nil
}

// Lease is this run's id on the rows it claims.
func (w *Worker) Lease() string { return w.lease }

// Wake tells the worker there is work (an event or a confirmation queued).
func (w *Worker) Wake() { w.wake.Wake() }

// Done is closed when Run has returned.
func (w *Worker) Done() <-chan struct{} { return w.done }

// Run fans out and delivers until ctx ends: one fan-out loop and, as
// notify.concurrency says (read at start), that many SMTP senders and
// webhook senders. Failures are logged and retried; Run returns only when
// ctx ends, so a dead relay never stops the daemon.
func (w *Worker) Run(ctx context.Context) error {
	defer w.doneMu.Do(func() { close(w.done) })
	n := w.opts.Config().Notify.Concurrency
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { w.fanOutLoop(gctx); return nil })
	for range n {
		g.Go(func() error { w.sendLoop(gctx, store.SubscriberEmail); return nil })
		g.Go(func() error { w.sendLoop(gctx, store.SubscriberWebhook); return nil })
	}
	g.Wait()
	return nil
}

// Drain fans out pending events and delivers everything due now, with the
// configured concurrency, returning once nothing due is left (retries set
// for later stay pending). Tests and benchmarks drive the worker with it.
func (w *Worker) Drain(ctx context.Context) error {
	if err := w.FanOut(ctx); err != nil {
		return err
	}
	n := w.opts.Config().Notify.Concurrency
	g, gctx := errgroup.WithContext(ctx)
	for range n {
		for _, kind := range []string{store.SubscriberEmail, store.SubscriberWebhook} {
			g.Go(func() error {
				for {
					if kind == store.SubscriberEmail && w.smtpDown() > 0 {
						return nil
					}
					got, err := w.deliverOnce(gctx, kind)
					if err != nil || got == 0 {
						return err
					}
				}
			})
		}
	}
	return g.Wait()
}

func (w *Worker) fanOutLoop(ctx context.Context) {
	var lastPurge time.Time
	q := quietErrors{clock: w.opts.Clock}
	for {
		ch := w.wake.C()
		if err := w.FanOut(ctx); err != nil && ctx.Err() == nil {
			q.fail(w.opts.Logger, "notify fan-out failed; retrying", "err", err)
		} else if err == nil {
			q.ok(w.opts.Logger, "notify fan-out works again")
		}
		if now := w.opts.Clock.Now(); now.Sub(lastPurge) > time.Hour {
			cfg := w.opts.Config()
			if n, err := w.opts.Store.PurgeUnconfirmed(ctx, now.Add(-cfg.Notify.Subscribe.PendingTTL.D())); err != nil && ctx.Err() == nil {
				w.opts.Logger.Error("purge unconfirmed subscribers failed", "err", err)
			} else if n > 0 {
				w.opts.Logger.Info("purged unconfirmed subscription requests", "count", n)
			}
			lastPurge = now
		}
		if !sleep(ctx, ch, w.opts.Poll) {
			return
		}
	}
}

// FanOut turns every pending event into outbox rows for the subscribers of
// its components (groups count for their children), each event in one
// transaction with its rows.
func (w *Worker) FanOut(ctx context.Context) error {
	cfg := w.opts.Config()
	for {
		evs, err := w.opts.Store.PendingEvents(ctx, 100)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			n, err := w.opts.Store.FanOut(ctx, ev.ID, Expand(cfg, ev.Components))
			if err != nil {
				return err
			}
			w.fannedOut.Add(float64(n))
			w.opts.Logger.Info("notification fanned out", "event", ev.ID, "kind", ev.Kind, "incident", ev.IncidentID, "recipients", n)
		}
		if len(evs) > 0 {
			w.Wake()
		}
		if len(evs) < 100 {
			return nil
		}
	}
}

func (w *Worker) sendLoop(ctx context.Context, kind string) {
	q := quietErrors{clock: w.opts.Clock}
	for ctx.Err() == nil {
		ch := w.wake.C()
		if kind == store.SubscriberEmail {
			if d := w.smtpDown(); d > 0 {
				if !sleep(ctx, nil, d) {
					return
				}
				continue
			}
		}
		got, err := w.deliverOnce(ctx, kind)
		if err != nil && ctx.Err() == nil {
			q.fail(w.opts.Logger, "notify delivery failed; retrying", "kind", kind, "err", err)
			if !sleep(ctx, nil, time.Second) {
				return
			}
			continue
		}
		if err == nil {
			q.ok(w.opts.Logger, "notify delivery works again", "kind", kind)
		}
		if got > 0 {
			continue
		}
		wait := w.opts.Poll
		if due, err := w.opts.Store.NextDue(ctx, kind); err == nil && !due.IsZero() {
			wait = min(wait, max(due.Sub(w.opts.Clock.Now()), 50*time.Millisecond))
		}
		if !sleep(ctx, ch, wait) {
			return
		}
	}
}

// quietErrors logs a failure that comes back at every retry (a database
// that is down fails every loop every second) when it begins, then at most
// once a minute with the count so far, and says when it ends.
type quietErrors struct {
	clock  clock.Clock
	logged time.Time // when the failure was last logged; zero: not failing
	n      int       // failures since it began
}

func (q *quietErrors) fail(l *slog.Logger, msg string, args ...any) {
	q.n++
	now := q.clock.Now()
	if q.logged.IsZero() || now.Sub(q.logged) >= time.Minute {
		l.Error(msg, append(args, "failures", q.n)...)
		q.logged = now
	}
}

func (q *quietErrors) ok(l *slog.Logger, msg string, args ...any) {
	if q.n > 0 {
		l.Info(msg, append(args, "failures", q.n)...)
	}
	q.n, q.logged = 0, time.Time{}
}

// sleep waits for d, a wake-up or the end of ctx (false).
func sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	}
	return true
}

func (w *Worker) smtpDown() time.Duration {
	w.downMu.Lock()
	defer w.downMu.Unlock()
	return w.downUntil.Sub(w.opts.Clock.Now())
}

// relayFailed backs the whole worker off the relay: after a failed dial
// nobody dials again until the backoff has passed.
func (w *Worker) relayFailed(r config.Retry) time.Time {
	w.downMu.Lock()
	defer w.downMu.Unlock()
	w.downFails++
	w.downUntil = w.opts.Clock.Now().Add(backoff(r, w.downFails))
	return w.downUntil
}

func (w *Worker) relayOK() {
	w.downMu.Lock()
	w.downFails, w.downUntil = 0, time.Time{}
	w.downMu.Unlock()
}

// backoff is the wait before attempt n+1: initial doubled per attempt, capped.
func backoff(r config.Retry, attempts int) time.Duration {
	d := r.Initial.D()
	for i := 1; i < attempts && d < r.Max.D(); i++ {
		d *= 2
	}
	return min(d, r.Max.D())
}

func (w *Worker) composer(cfg *config.Config) (*Composer, error) {
	w.compMu.Lock()
	defer w.compMu.Unlock()
	if w.comp != nil && w.compCfg == cfg {
		return w.comp, nil
	}
	c, err := NewComposer(cfg, w.opts.Links)
	if err != nil {
		return nil, err
	}
	w.comp, w.compCfg = c, cfg
	w.storyMu.Lock()
	clear(w.stories)
	w.storyMu.Unlock()
	return c, nil
}

// story renders an event once for all its recipients.
func (w *Worker) story(ctx context.Context, c *Composer, ev store.Event) (*Story, error) {
	w.storyMu.Lock()
	s, ok := w.stories[ev.ID]
	w.storyMu.Unlock()
	if ok {
		return s, s.err
	}
	s, err := c.Story(ctx, w.opts.Store, ev)
	if err != nil {
		if !errors.Is(err, ErrNoStory) {
			return nil, err // a database hiccup: not remembered
		}
		s = &Story{err: err}
	}
	w.storyMu.Lock()
	if len(w.stories) > 256 {
		clear(w.stories)
	}
	w.stories[ev.ID] = s
	w.storyMu.Unlock()
	return s, s.err
}

// batch collects the outcomes of one claim. They are written with the
// next send's start (startSend: one transaction a message), or every ten
// for outcomes without a send (drops), or when the claim ends: a crash
// leaves at most one message per sender in doubt, the one it was sending,
// and only those are counted as redelivered when the next run sends them
// again (the rows claimed and not begun are sent as any other).
type batch struct {
	w    *Worker
	ctx  context.Context
	outs []store.DeliveryOutcome
}

func (b *batch) add(o store.DeliveryOutcome) {
	b.outs = append(b.outs, o)
	if len(b.outs) >= 10 {
		b.flush()
	}
}

func (b *batch) flush() {
	if len(b.outs) == 0 {
		return
	}
	// Outcomes are written even while shutting down: they are the truth.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), 30*time.Second)
	defer cancel()
	q, err := b.w.opts.Store.FinishDeliveries(ctx, b.outs, b.w.opts.Config().Notify.QuarantineAfter)
	if err != nil {
		// The rows stay claimed by this run; a restart sends them again
		// (those begun counted as in doubt). Nothing is lost.
		b.w.opts.Logger.Error("record delivery outcomes failed", "count", len(b.outs), "err", err)
	}
	for _, id := range q {
		b.w.quarantined.Inc()
		b.w.opts.Logger.Warn("subscriber quarantined after repeated failed deliveries", "subscriber", id)
	}
	b.outs = b.outs[:0]
}

// startSend writes the outcomes so far and marks d as being sent, in one
// transaction, right before d goes to the relay or webhook. held false: d
// is no longer this run's to send (its subscriber was just quarantined).
// An error (the database refused; logged): send nothing more now.
func (b *batch) startSend(d store.Delivery) (held bool, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), 30*time.Second)
	defer cancel()
	q, held, err := b.w.opts.Store.StartSend(ctx, b.w.lease, d.ID, b.outs, b.w.opts.Config().Notify.QuarantineAfter)
	if err != nil {
		b.w.opts.Logger.Error("cannot record that a notification is being sent; it waits", "delivery", d.ID, "err", err)
		return false, err
	}
	for _, id := range q {
		b.w.quarantined.Inc()
		b.w.opts.Logger.Warn("subscriber quarantined after repeated failed deliveries", "subscriber", id)
	}
	b.outs = b.outs[:0]
	return held, nil
}

// retry records a failed attempt that may succeed later, or a final
// failure once the delivery is older than give_up_after.
func (w *Worker) retry(b *batch, d store.Delivery, cfg *config.Config, reason string, blame bool, err error) {
	w.failed.WithLabelValues(reason).Inc()
	now := w.opts.Clock.Now()
	o := store.DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Err: errText(err)}
	if now.Sub(d.CreatedAt) >= cfg.Notify.Retry.GiveUpAfter.D() {
		w.failed.WithLabelValues(ReasonExpired).Inc()
		o.Result, o.Blame = store.DeliveryFailed, blame
	} else {
		o.Result, o.Due = store.DeliveryRetry, now.Add(backoff(cfg.Notify.Retry, d.Attempts))
	}
	b.add(o)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// deliverOnce claims up to notify.per_connection deliveries to subscribers
// of a kind and sends them; it returns how many it claimed.
func (w *Worker) deliverOnce(ctx context.Context, kind string) (int, error) {
	cfg := w.opts.Config()
	ds, err := w.opts.Store.ClaimDeliveries(ctx, w.lease, kind, cfg.Notify.PerConnection)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	c, err := w.composer(cfg)
	if err != nil {
		return 0, err
	}
	b := &batch{w: w, ctx: ctx}
	defer b.flush()
	if kind == store.SubscriberWebhook {
		w.sendWebhooks(ctx, cfg, c, b, ds)
	} else {
		w.sendMails(ctx, cfg, c, b, ds)
	}
	return len(ds), nil
}

// message composes one claimed delivery; a nil message with a nil error
// means it is dropped on purpose (recorded in b).
func (w *Worker) message(ctx context.Context, c *Composer, b *batch, d store.Delivery) (*gomail.Msg, error) {
	now := w.opts.Clock.Now()
	drop := func(why string) {
		b.add(store.DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: store.DeliveryDropped, Err: why})
	}
	if d.Kind == store.DeliveryConfirm {
		sub, err := w.opts.Store.Subscriber(ctx, d.Subscriber.ID)
		if errors.Is(err, store.ErrNotFound) {
			drop("subscriber removed")
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if sub.PendingComponents == nil {
			drop("nothing to confirm")
			return nil, nil
		}
		return c.ConfirmMail(sub, now)
	}
	if d.Subscriber.State != store.SubscriberActive {
		drop(d.Subscriber.State)
		return nil, nil
	}
	s, err := w.story(ctx, c, d.Event)
	if errors.Is(err, ErrNoStory) {
		w.failed.WithLabelValues(ReasonCompose).Inc()
		drop(err.Error())
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return c.EventMail(s, d.Subscriber, now)
}

func (w *Worker) sendMails(ctx context.Context, cfg *config.Config, c *Composer, b *batch, ds []store.Delivery) {
	var conn *smtpConn
	defer func() {
		if conn != nil {
			conn.close()
		}
	}()
	release := func(rest []store.Delivery, due time.Time) {
		for _, d := range rest {
			b.add(store.DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: store.DeliveryRetry, Due: due})
		}
	}
	for i, d := range ds {
		if ctx.Err() != nil {
			release(ds[i:], w.opts.Clock.Now())
			return
		}
		msg, err := w.message(ctx, c, b, d)
		if err != nil {
			w.opts.Logger.Error("compose notification failed; retrying", "delivery", d.ID, "err", err)
			w.retry(b, d, cfg, ReasonCompose, false, err)
			continue
		}
		if msg == nil {
			continue
		}
		if conn == nil {
			conn, err = dialSMTP(ctx, cfg.Notify.SMTP, w.opts.TLSConfig)
			if err != nil {
				until := w.relayFailed(cfg.Notify.Retry)
				defer w.opts.Logger.Warn("SMTP relay unreachable; waiting", "err", err, "retry_at", until, "deferred", len(ds)-i)
				for _, r := range ds[i:] {
					// Not an attempt at the message: the relay was not there.
					if w.opts.Clock.Now().Sub(r.CreatedAt) >= cfg.Notify.Retry.GiveUpAfter.D() {
						w.retry(b, r, cfg, ReasonConnection, false, err)
					} else {
						w.failed.WithLabelValues(ReasonConnection).Inc()
						b.add(store.DeliveryOutcome{ID: r.ID, Subscriber: r.Subscriber.ID, Result: store.DeliveryRetry, Due: until, Err: errText(err)})
					}
				}
				return
			}
			w.relayOK()
		}
		if !w.pace(ctx, cfg.Notify.Rate) {
			release(ds[i:], w.opts.Clock.Now())
			return
		}
		if held, err := b.startSend(d); err != nil {
			release(ds[i:], w.opts.Clock.Now()) // tried again at the next claim
			return
		} else if !held {
			continue
		}
		if d.InDoubt {
			w.redelivered.Inc()
		}
		class, err := conn.send(msg)
		switch class {
		case sendOK:
			w.sent.Inc()
			b.add(store.DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: store.DeliverySent, ClearFailures: d.Subscriber.Failures > 0})
		case sendTemporary:
			w.retry(b, d, cfg, ReasonTemporary, true, err)
		case sendPermanent:
			w.failed.WithLabelValues(ReasonPermanent).Inc()
			b.add(store.DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: store.DeliveryFailed, Err: errText(err), Blame: true})
		case sendConnLost:
			w.retry(b, d, cfg, ReasonConnection, false, err)
			conn.close()
			conn = nil
		}
	}
}

func (w *Worker) sendWebhooks(ctx context.Context, cfg *config.Config, c *Composer, b *batch, ds []store.Delivery) {
	for i, d := range ds {
		if ctx.Err() != nil {
			for _, r := range ds[i:] {
				b.add(store.DeliveryOutcome{ID: r.ID, Subscriber: r.Subscriber.ID, Result: store.DeliveryRetry, Due: w.opts.Clock.Now()})
			}
			return
		}
		if d.Subscriber.State != store.SubscriberActive || d.Kind != store.DeliveryEvent {
			b.add(store.DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: store.DeliveryDropped, Err: d.Subscriber.State})
			continue
		}
		s, err := w.story(ctx, c, d.Event)
		if errors.Is(err, ErrNoStory) {
			w.failed.WithLabelValues(ReasonCompose).Inc()
			b.add(store.DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: store.DeliveryDropped, Err: err.Error()})
			continue
		}
		if err != nil {
			w.retry(b, d, cfg, ReasonCompose, false, err)
			continue
		}
		now := w.opts.Clock.Now()
		body, err := c.WebhookBody(s, d.Subscriber, now)
		if err != nil {
			w.retry(b, d, cfg, ReasonCompose, false, err)
			continue
		}
		if !w.pace(ctx, cfg.Notify.Rate) {
			b.add(store.DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: store.DeliveryRetry, Due: now})
			continue
		}
		if held, err := b.startSend(d); err != nil {
			for _, r := range ds[i:] {
				b.add(store.DeliveryOutcome{ID: r.ID, Subscriber: r.Subscriber.ID, Result: store.DeliveryRetry, Due: now})
			}
			return
		} else if !held {
			continue
		}
		if d.InDoubt {
			w.redelivered.Inc()
		}
		pctx, cancel := context.WithTimeout(ctx, cfg.Notify.WebhookTimeout.D())
		class, err := postWebhook(pctx, w.webhk, d.Subscriber.Address, d.Subscriber.Secret, d.Event.Kind, strconv.FormatInt(d.ID, 10), body, now)
		cancel()
		switch class {
		case sendOK:
			w.sent.Inc()
			b.add(store.DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: store.DeliverySent, ClearFailures: d.Subscriber.Failures > 0})
		case sendPermanent:
			w.failed.WithLabelValues(ReasonWebhookPermanent).Inc()
			b.add(store.DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: store.DeliveryFailed, Err: errText(err), Blame: true})
		default:
			w.retry(b, d, cfg, ReasonWebhookTemporary, true, err)
		}
	}
}

// pacer spaces sends to notify.rate a second over all connections, with no
// burst beyond one send: a token bucket of one (golang.org/x/time/rate). It
// paces real throughput to the relay, so it reads the wall clock.
type pacer struct {
	once sync.Once
	lim  *rate.Limiter
}

// reserve books the next send slot at perSecond (0: no cap) and returns how
// long to wait for it, and a cancel that gives the slot back when the wait
// is abandoned.
func (p *pacer) reserve(now time.Time, perSecond float64) (time.Duration, func()) {
	if perSecond <= 0 {
		return 0, func() {}
	}
	p.once.Do(func() { p.lim = rate.NewLimiter(rate.Limit(perSecond), 1) })
	if p.lim.Limit() != rate.Limit(perSecond) {
		p.lim.SetLimitAt(now, rate.Limit(perSecond)) // a reload changed notify.rate
	}
	r := p.lim.ReserveN(now, 1)
	return r.DelayFrom(now), func() { r.CancelAt(now) }
}

// pace waits for the next send slot; false when ctx ended first.
func (w *Worker) pace(ctx context.Context, perSecond float64) bool {
	wait, cancel := w.pacer.reserve(time.Now(), perSecond)
	if wait > 0 && !sleep(ctx, nil, wait) {
		cancel()
		return false
	}
	return true
}

// subscriberCollector reports probed_subscribers{state} at scrape time.
// countCollector reports a count the store reads at scrape time (-1 when
// it cannot, within 2 s). A collector, not a GaugeFunc: the registry asks
// every GaugeFunc in turn in one goroutine, and collectors each in their
// own, so a query a cut network holds for its bound does not add to the
// others' waits in a scrape.
type countCollector struct {
	desc  *prometheus.Desc
	count func(context.Context) (int, error)
}

func (c countCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c countCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := c.count(ctx)
	if err != nil {
		n = -1
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}

type subscriberCollector struct {
	store *store.Store
	desc  *prometheus.Desc
}

// Describe sends the one descriptor.
func (c *subscriberCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect counts subscribers by state at scrape time.
func (c *subscriberCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.store.SubscriberCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("count subscribers: %w", err))
		return
	}
	for _, st := range []string{store.SubscriberPending, store.SubscriberActive, store.SubscriberUnsubscribed, store.SubscriberQuarantined} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), st)
	}
}

var _ prometheus.Collector = (*subscriberCollector)(nil)
