package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
	"github.com/probed/probed/words"
)

// Reasons of probed_operator_webhooks_failed_total.
const (
	OperatorReasonTemporary = "temporary" // 408, 429, 5xx, no answer in notify.webhook_timeout: retried
	OperatorReasonPermanent = "permanent" // another 4xx or a redirect: not retried
	OperatorReasonExpired   = "expired"   // still failing notify.retry.give_up_after after the event
)

// OperatorOptions is what the operator webhook dispatcher needs. Zero
// Transport, Poll and Words are production defaults.
type OperatorOptions struct {
	Store      *store.Store
	Config     func() *config.Config
	Clock      clock.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Transport  http.RoundTripper
	// Poll is the longest the dispatcher sleeps without being woken (default 5s).
	Poll  time.Duration
	Words *words.Catalogue
}

// OperatorHooks posts operator events (a draft created, approved, rejected
// or withdrawn, a resolve proposed) to notify.operator_webhooks. It runs
// beside the engine and never blocks it: the store queues each event with
// the change itself, and the dispatcher sends from that queue, one post at
// a time, each bounded by notify.webhook_timeout.
type OperatorHooks struct {
	opts   OperatorOptions
	client *http.Client

	wake   wakeup
	done   chan struct{}
	doneMu sync.Once

	sent   *prometheus.CounterVec
	failed *prometheus.CounterVec
}

// NewOperatorHooks builds the dispatcher; Run starts it.
func NewOperatorHooks(opts OperatorOptions) (*OperatorHooks, error) {
	if opts.Store == nil || opts.Config == nil {
		return nil, errors.New("new operator hooks: store and config are required")
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
	if opts.Words == nil {
		opts.Words = words.Builtin()
	}
	h := &OperatorHooks{opts: opts, client: newWebhookClient(opts.Transport), done: make(chan struct{})}
	f := promauto.With(opts.Registerer)
	h.sent = f.NewCounterVec(prometheus.CounterOpts{Name: "probed_operator_webhooks_sent_total",
		Help: "Operator events (drafts, resolve proposals) accepted (2xx) by an operator webhook."}, []string{"webhook"})
	h.failed = f.NewCounterVec(prometheus.CounterOpts{Name: "probed_operator_webhooks_failed_total",
		Help: "Failed posts to an operator webhook, by reason (temporary ones are retried)."}, []string{"webhook", "reason"})
	opts.Registerer.MustRegister(countCollector{count: opts.Store.PendingOperatorDeliveries,
		desc: prometheus.NewDesc("probed_operator_webhooks_pending", "Operator events waiting to be posted (retries included).", nil, nil)})
	for _, w := range opts.Config().Notify.OperatorWebhooks {
		h.sent.WithLabelValues(w.Name)
		for _, r := range []string{OperatorReasonTemporary, OperatorReasonPermanent, OperatorReasonExpired} {
			h.failed.WithLabelValues(w.Name, r)
		}
	}
	return h, nil
}

// Wake tells the dispatcher an operator event may be waiting.
func (h *OperatorHooks) Wake() { h.wake.Wake() }

// Done is closed when Run has returned.
func (h *OperatorHooks) Done() <-chan struct{} { return h.done }

// Run dispatches until ctx ends; failures are logged and retried. A post
// under way when ctx ends is abandoned and sent again at the next start.
func (h *OperatorHooks) Run(ctx context.Context) {
	defer h.doneMu.Do(func() { close(h.done) })
	for ctx.Err() == nil {
		ch := h.wake.C()
		if err := h.Drain(ctx); err != nil && ctx.Err() == nil {
			h.opts.Logger.Error("operator webhooks: dispatch failed; retrying", "err", err)
		}
		wait := h.opts.Poll
		if due, err := h.opts.Store.NextOperatorDue(ctx); err == nil && !due.IsZero() {
			wait = min(wait, max(due.Sub(h.opts.Clock.Now()), 50*time.Millisecond))
		}
		if !sleep(ctx, ch, wait) {
			return
		}
	}
}

// Drain fans out new operator events to the configured webhooks and posts
// every delivery due now; retries set for later stay pending.
func (h *OperatorHooks) Drain(ctx context.Context) error {
	cfg := h.opts.Config()
	wants := map[string][]string{}
	for _, w := range cfg.Notify.OperatorWebhooks {
		for _, k := range config.OperatorEvents {
			if w.Wants(k) {
				wants[k] = append(wants[k], w.Name)
			}
		}
	}
	if _, err := h.opts.Store.FanOutOperator(ctx, wants); err != nil {
		return err
	}
	for ctx.Err() == nil {
		// One at a time: each claim is held only for its own post.
		ds, err := h.opts.Store.DueOperatorDeliveries(ctx, 1, operatorHold(cfg))
		if err != nil || len(ds) == 0 {
			return err
		}
		for _, d := range ds {
			if err := h.deliver(ctx, h.opts.Config(), d); err != nil {
				return err
			}
		}
	}
	return nil
}

// operatorHold is how long a claimed delivery is held by its dispatcher:
// its post's bound and a margin to record the outcome. A dispatcher that
// dies holding it lets another take it after this.
func operatorHold(cfg *config.Config) time.Duration {
	return cfg.Notify.WebhookTimeout.D() + 30*time.Second
}

func (h *OperatorHooks) deliver(ctx context.Context, cfg *config.Config, d store.OperatorDelivery) error {
	log := h.opts.Logger.With("webhook", d.Webhook, "event", d.Event.Kind, "incident", d.Event.Incident.ID, "delivery", d.ID)
	var hook *config.OperatorWebhook
	for i := range cfg.Notify.OperatorWebhooks {
		if cfg.Notify.OperatorWebhooks[i].Name == d.Webhook {
			hook = &cfg.Notify.OperatorWebhooks[i]
		}
	}
	finish := func(o store.OperatorOutcome) error {
		o.ID = d.ID
		// Outcomes are written even while shutting down: they are the truth.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return h.opts.Store.FinishOperatorDelivery(fctx, o)
	}
	if hook == nil {
		log.Warn("operator webhook no longer configured; event dropped")
		return finish(store.OperatorOutcome{Result: store.OperatorDropped, Err: "webhook no longer configured"})
	}
	now := h.opts.Clock.Now()
	body, err := h.Body(cfg, hook, d.Event)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.Notify.WebhookTimeout.D())
	class, err := postWebhook(pctx, h.client, hook.Target, hook.Secret, d.Event.Kind, "op-"+strconv.FormatInt(d.ID, 10), body, now)
	cancel()
	switch {
	case class == sendOK:
		h.sent.WithLabelValues(hook.Name).Inc()
		log.Info("operator webhook sent", "attempts", d.Attempts)
		return finish(store.OperatorOutcome{Result: store.OperatorSent})
	case class == sendPermanent:
		h.failed.WithLabelValues(hook.Name, OperatorReasonPermanent).Inc()
		log.Error("operator webhook refused the event; not retried", "err", err)
		return finish(store.OperatorOutcome{Result: store.OperatorFailed, Err: errText(err)})
	case ctx.Err() != nil:
		// Shutting down mid-post: not the webhook's fault, sent again at the next start.
		return finish(store.OperatorOutcome{Result: store.OperatorRetry, Due: now, Err: errText(err)})
	}
	h.failed.WithLabelValues(hook.Name, OperatorReasonTemporary).Inc()
	if now.Sub(d.Event.CreatedAt) >= cfg.Notify.Retry.GiveUpAfter.D() {
		h.failed.WithLabelValues(hook.Name, OperatorReasonExpired).Inc()
		log.Error("operator webhook still failing; giving up", "err", err, "attempts", d.Attempts)
		return finish(store.OperatorOutcome{Result: store.OperatorFailed, Err: errText(err)})
	}
	due := now.Add(backoff(cfg.Notify.Retry, d.Attempts))
	log.Warn("operator webhook failed; retrying", "err", err, "attempts", d.Attempts, "retry_at", due)
	return finish(store.OperatorOutcome{Result: store.OperatorRetry, Due: due, Err: errText(err)})
}

// OperatorPayload is the body of a json operator webhook (README: Operator
// webhooks).
type OperatorPayload struct {
	Event      string           `json:"event"`
	ID         string           `json:"id"` // the operator event; the same on every retry and every webhook
	OccurredAt string           `json:"occurred_at"`
	Actor      string           `json:"actor"`
	Reason     string           `json:"reason,omitempty"`
	Language   string           `json:"language"`
	Summary    string           `json:"summary"`
	Incident   OperatorIncident `json:"incident"`
	Page       OperatorPage     `json:"page"`
}

// OperatorPage names the status page the event belongs to.
type OperatorPage struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// OperatorIncident is the incident as it stood right after the event.
type OperatorIncident struct {
	ID         int64              `json:"id"`
	State      string             `json:"state"`
	Status     string             `json:"status"`
	Impact     string             `json:"impact"`
	Origin     string             `json:"origin"`
	Title      string             `json:"title"`
	Titles     status.Text        `json:"titles"`
	Message    string             `json:"message"`
	Messages   status.Text        `json:"messages"`
	Components []WebhookComponent `json:"components"`
	ConsoleURL string             `json:"console_url"`
	CreatedAt  string             `json:"created_at"`
}

// Body renders an operator event for a webhook in its format and language.
func (h *OperatorHooks) Body(cfg *config.Config, hook *config.OperatorWebhook, ev store.OperatorEvent) ([]byte, error) {
	lang := hook.Language
	if lang == "" && len(cfg.Page.Languages) > 0 {
		lang = cfg.Page.Languages[0]
	}
	if lang == "" {
		lang = "en"
	}
	w := h.opts.Words.Lang(lang)
	if w == nil {
		w = h.opts.Words.Lang("en")
	}
	inc := ev.Incident
	title := inc.Title.In(lang, cfg.Page.Languages...)
	message := status.Text{}
	if inc.Proposal != nil && ev.Kind == store.OperatorResolveProposed {
		message = inc.Proposal.Body
	} else {
		var newest time.Time
		for _, u := range inc.Updates {
			if !u.CreatedAt.Before(newest) {
				message, newest = u.Body, u.CreatedAt
			}
		}
	}
	link := strings.TrimRight(consoleURL(cfg, hook), "/") + "/admin/incidents/" + strconv.FormatInt(inc.ID, 10)
	var comps []WebhookComponent
	var names []string
	for _, c := range inc.Components {
		name := c.ID
		if comp := cfg.Component(c.ID); comp != nil {
			name = comp.Name
		}
		comps = append(comps, WebhookComponent{ID: c.ID, Name: name, Status: c.Status})
		names = append(names, w.F("operator.component", name, w.Status(c.Status)))
	}
	var summary string
	switch ev.Kind {
	case store.OperatorDraftApproved, store.OperatorDraftRejected:
		summary = w.F("operator."+ev.Kind, ev.Actor, title)
	default:
		summary = w.F("operator."+ev.Kind, title)
	}
	if hook.Format == config.FormatJSON {
		p := OperatorPayload{Event: ev.Kind, ID: strconv.FormatInt(ev.ID, 10), OccurredAt: ts(ev.CreatedAt), Actor: ev.Actor, Reason: ev.Detail,
			Language: lang, Summary: summary, Page: OperatorPage{Name: cfg.Page.Name, URL: cfg.Page.URL},
			Incident: OperatorIncident{ID: inc.ID, State: inc.State, Status: inc.Status, Impact: inc.Impact, Origin: inc.Origin,
				Title: title, Titles: inc.Title.Clean(), Message: message.In(lang, cfg.Page.Languages...), Messages: message.Clean(),
				Components: comps, ConsoleURL: link, CreatedAt: ts(inc.CreatedAt)}}
		if p.Incident.Components == nil {
			p.Incident.Components = []WebhookComponent{}
		}
		if p.Incident.Messages == nil {
			p.Incident.Messages = status.Text{}
		}
		return marshal(p)
	}
	// Slack-compatible: text for every client (and notifications), blocks
	// for those that draw them.
	details := w.F("operator.impact", w.Impact(inc.Impact))
	if len(names) > 0 {
		details += " · " + w.F("operator.components", strings.Join(names, w.T("operator.sep")))
	}
	var lines []string
	lines = append(lines, "*"+slackEscape(summary)+"*", slackEscape(details))
	if ev.Detail != "" {
		lines = append(lines, slackEscape(w.F("operator.reason", ev.Detail)))
	}
	if m := message.In(lang, cfg.Page.Languages...); m != "" {
		lines = append(lines, "> "+strings.ReplaceAll(slackEscape(m), "\n", "\n> "))
	}
	open := "<" + link + "|" + slackEscape(w.T("operator.open")) + ">"
	text := strings.Join(append(lines, open), "\n")
	type textObj struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type element struct {
		Type string  `json:"type"`
		Text textObj `json:"text"`
		URL  string  `json:"url"`
	}
	type block struct {
		Type     string    `json:"type"`
		Text     *textObj  `json:"text,omitempty"`
		Elements []element `json:"elements,omitempty"`
	}
	msg := struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{Text: text, Blocks: []block{
		{Type: "section", Text: &textObj{Type: "mrkdwn", Text: clip(strings.Join(lines, "\n"), slackSectionMax)}},
		{Type: "actions", Elements: []element{{Type: "button", Text: textObj{Type: "plain_text", Text: w.T("operator.open")}, URL: link}}},
	}}
	return marshal(msg)
}

// marshal is json.Marshal without HTML escaping: Slack's mrkdwn links read
// <url|text>, and receivers read the body as it is.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("render operator webhook: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// slackSectionMax is the most characters Slack takes in a section block's
// text: a longer one makes it refuse the whole message (400), which would
// lose the event.
const slackSectionMax = 3000

// clip shortens s to at most n characters, ending it with "…".
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// consoleURL is the webhook's console_url, or http://<server.admin_listen>
// (server.listen when the console shares it).
func consoleURL(cfg *config.Config, hook *config.OperatorWebhook) string {
	if hook.ConsoleURL != "" {
		return hook.ConsoleURL
	}
	addr := cfg.Server.AdminListen
	if addr == "" {
		addr = cfg.Server.Listen
	}
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return "http://" + addr
}
