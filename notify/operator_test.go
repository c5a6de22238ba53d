package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/config"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// opSink is an operator webhook receiver on loopback: it records every
// request and answers with the next code of answers (then 200).
type opSink struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []opReq
	answers []int
	hold    chan struct{} // when set, the first request waits for it or its context
	arrived chan struct{}
}

type opReq struct {
	header http.Header
	body   []byte
}

func newOpSink(t *testing.T, answers ...int) *opSink {
	s := &opSink{answers: answers, arrived: make(chan struct{}, 100)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, opReq{header: r.Header.Clone(), body: body})
		code := http.StatusOK
		if len(s.answers) > 0 {
			code, s.answers = s.answers[0], s.answers[1:]
		}
		hold := s.hold
		s.hold = nil
		s.mu.Unlock()
		s.arrived <- struct{}{}
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *opSink) got() []opReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

const opSecret = "0123456789abcdef-operator"

// opEnv is the notify test env with two operator webhooks: oncall (slack,
// Japanese, its URL from a file and secret in its path) and pager (json,
// signed, every event).
func opEnv(t *testing.T, slack, pager *opSink, extra ...string) (*env, *OperatorHooks, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	urlFile, secretFile := filepath.Join(dir, "slack-url"), filepath.Join(dir, "secret")
	if err := os.WriteFile(urlFile, []byte(slack.srv.URL+"/services/T0/B0/SECRETTOKEN\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte(opSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, append([]string{fmt.Sprintf(`  operator_webhooks:
    - {name: oncall, format: slack, url_file: %s, language: ja, events: [draft_created, draft_withdrawn, resolve_proposed, draft_approved, draft_rejected]}
    - {name: pager, format: json, url: '%s/probed', secret_file: %s, console_url: 'https://console.example.test/'}`, urlFile, pager.srv.URL, secretFile)}, extra...)...)
	var logs bytes.Buffer
	h := e.opHooks(&logs)
	return e, h, &logs
}

func (e *env) opHooks(logs io.Writer) *OperatorHooks {
	e.t.Helper()
	h, err := NewOperatorHooks(OperatorOptions{Store: e.st, Config: func() *config.Config { return e.cfg }, Clock: e.clk,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Registerer: prometheus.NewRegistry()})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *env) opDrain(h *OperatorHooks) {
	e.t.Helper()
	if err := h.Drain(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// draft creates a draft as the engine does (actor probed, origin probe).
func (e *env) draft(comps ...status.ComponentImpact) *status.Incident {
	e.t.Helper()
	inc, err := e.st.CreateDraft(e.ctx, store.ActorEngine, status.NewIncident{
		Title:      status.Text{"en": "OCSP responses are stale", "ja": "OCSP レスポンスが古くなっています"},
		Body:       status.Text{"en": "Certificate status answers are out of date.", "ja": "証明書の失効確認の応答が古くなっています。"},
		Components: comps, Origin: status.OriginProbe})
	if err != nil {
		e.t.Fatal(err)
	}
	return inc
}

// TestOperatorWebhooksEveryEventEachFormat: every operator event reaches a
// Slack-compatible and a json webhook on loopback, once, in order, with
// the words of the webhook's language, the console link, and (json) a
// signature the receiver verifies.
func TestOperatorWebhooksEveryEventEachFormat(t *testing.T) {
	slack, pager := newOpSink(t), newOpSink(t)
	e, h, logs := opEnv(t, slack, pager)
	ocsp := status.ComponentImpact{ID: "ocsp", Status: status.PartialOutage}
	crl := status.ComponentImpact{ID: "crl", Status: status.DegradedPerformance}

	first := e.draft(ocsp, crl)
	if _, err := e.st.Withdraw(e.ctx, store.ActorEngine, first.ID, "the failure cleared"); err != nil {
		t.Fatal(err)
	}
	second := e.draft(ocsp)
	if _, err := e.st.Reject(e.ctx, "alice", second.ID, "a test of the responder"); err != nil {
		t.Fatal(err)
	}
	third := e.draft(ocsp)
	if _, err := e.st.Approve(e.ctx, "bob", third.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := e.st.ProposeResolve(e.ctx, third.ID, status.Text{"en": "OCSP answers are fresh again.", "ja": "OCSP の応答は最新に戻りました。"}); err != nil {
		t.Fatal(err)
	}
	// A manual incident published at once is no draft: nobody is told.
	e.publish("Announced outage", "crl")
	e.opDrain(h)
	e.opDrain(h) // nothing twice

	type want struct {
		kind   string
		id     int64
		actor  string
		reason string
		ja     string // the Slack text's first line
	}
	wants := []want{
		{store.OperatorDraftCreated, first.ID, "probed", "", "*承認待ちのインシデント下書き: OCSP レスポンスが古くなっています*"},
		{store.OperatorDraftWithdrawn, first.ID, "probed", "the failure cleared", "*障害が解消したため下書きを取り下げました: OCSP レスポンスが古くなっています*"},
		{store.OperatorDraftCreated, second.ID, "probed", "", "*承認待ちのインシデント下書き: OCSP レスポンスが古くなっています*"},
		{store.OperatorDraftRejected, second.ID, "alice", "a test of the responder", "*alice が下書きを却下しました: OCSP レスポンスが古くなっています*"},
		{store.OperatorDraftCreated, third.ID, "probed", "", "*承認待ちのインシデント下書き: OCSP レスポンスが古くなっています*"},
		{store.OperatorDraftApproved, third.ID, "bob", "", "*bob が承認し公開しました: OCSP レスポンスが古くなっています*"},
		{store.OperatorResolveProposed, third.ID, "probed", "", "*コンポーネントが回復しました。解決を提案しています: OCSP レスポンスが古くなっています*"},
	}
	js, sl := pager.got(), slack.got()
	if len(js) != len(wants) || len(sl) != len(wants) {
		t.Fatalf("json webhook got %d posts, slack %d; want %d each", len(js), len(sl), len(wants))
	}
	for i, w := range wants {
		// json: signed, probed's schema.
		r := js[i]
		if err := VerifyWebhook(opSecret, r.header.Get(HeaderSignature), r.body, e.clk.Now(), 5*time.Minute); err != nil {
			t.Errorf("json %d (%s): signature: %v", i, w.kind, err)
		}
		if r.header.Get(HeaderEvent) != w.kind || r.header.Get("Content-Type") != "application/json" || !strings.HasPrefix(r.header.Get(HeaderDelivery), "op-") {
			t.Errorf("json %d headers %v", i, r.header)
		}
		var p OperatorPayload
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("json %d: %v\n%s", i, err, r.body)
		}
		inc := p.Incident
		if p.Event != w.kind || inc.ID != w.id || p.Actor != w.actor || p.Reason != w.reason || p.Language != "en" ||
			inc.Title != "OCSP responses are stale" || inc.Titles["ja"] != "OCSP レスポンスが古くなっています" || inc.Origin != status.OriginProbe ||
			inc.ConsoleURL != fmt.Sprintf("https://console.example.test/admin/incidents/%d", w.id) || p.Page.Name != "Example CA" ||
			len(inc.Components) == 0 || inc.Components[0] != (WebhookComponent{ID: "ocsp", Name: "Online Certificate Status Protocol (OCSP)", Status: status.PartialOutage}) {
			t.Errorf("json %d = %+v", i, p)
		}
		switch w.kind {
		case store.OperatorDraftCreated:
			if inc.State != status.StateDraft || inc.Message != "Certificate status answers are out of date." || !strings.HasPrefix(p.Summary, "Draft incident waiting for approval: ") {
				t.Errorf("json %d draft created = %+v", i, p)
			}
		case store.OperatorDraftWithdrawn:
			if inc.State != status.StateWithdrawn || len(inc.Components) != 2 || inc.Impact != status.ImpactMinor {
				t.Errorf("json %d withdrawn = %+v", i, p)
			}
		case store.OperatorDraftApproved:
			if inc.State != status.StatePublished || p.Summary != "bob approved and published: OCSP responses are stale" {
				t.Errorf("json %d approved = %+v", i, p)
			}
		case store.OperatorResolveProposed:
			if inc.Message != "OCSP answers are fresh again." || inc.Messages["ja"] != "OCSP の応答は最新に戻りました。" {
				t.Errorf("json %d resolve proposed = %+v", i, p)
			}
		}
		// Slack: text (and blocks) in Japanese, no secret given so no signature.
		r = sl[i]
		var m struct {
			Text   string `json:"text"`
			Blocks []struct {
				Type     string `json:"type"`
				Text     *struct{ Type, Text string }
				Elements []struct {
					Type string
					Text struct{ Type, Text string }
					URL  string
				}
			} `json:"blocks"`
		}
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatalf("slack %d: %v", i, err)
		}
		if r.header.Get(HeaderSignature) != "" || r.header.Get(HeaderEvent) != w.kind {
			t.Errorf("slack %d headers %v", i, r.header)
		}
		link := fmt.Sprintf("http://127.0.0.1:8080/admin/incidents/%d", w.id)
		lines := strings.Split(m.Text, "\n")
		if lines[0] != w.ja || !strings.HasPrefix(lines[1], "影響度: ") || !strings.Contains(lines[1], "コンポーネント: Online Certificate Status Protocol (OCSP): 一部障害") ||
			lines[len(lines)-1] != "<"+link+"|コンソールで開く>" {
			t.Errorf("slack %d text:\n%s", i, m.Text)
		}
		if w.reason != "" && !strings.Contains(m.Text, "\n理由: "+w.reason+"\n") {
			t.Errorf("slack %d: no reason in\n%s", i, m.Text)
		}
		if len(m.Blocks) != 2 || m.Blocks[0].Type != "section" || m.Blocks[0].Text.Type != "mrkdwn" || !strings.HasPrefix(m.Blocks[0].Text.Text, w.ja) ||
			m.Blocks[1].Type != "actions" || len(m.Blocks[1].Elements) != 1 || m.Blocks[1].Elements[0].URL != link || m.Blocks[1].Elements[0].Text.Text != "コンソールで開く" {
			t.Errorf("slack %d blocks: %s", i, r.body)
		}
	}
	if strings.Contains(logs.String(), "SECRETTOKEN") {
		t.Errorf("the Slack URL's secret is in the log:\n%s", logs)
	}
	if got := testutil.ToFloat64(h.sent.WithLabelValues("pager")); got != float64(len(wants)) {
		t.Errorf("sent{pager} = %v, want %d", got, len(wants))
	}
}

// TestOperatorWebhooksRetryGiveUpAndRefuse: a 503 is retried after
// notify.retry.initial with the same delivery id; a 400 fails at once; a
// webhook still failing give_up_after after the event gives up; an
// unreachable webhook is retried; no log line or stored error quotes the
// URL.
func TestOperatorWebhooksRetryGiveUpAndRefuse(t *testing.T) {
	slack := newOpSink(t, http.StatusBadRequest)
	pager := newOpSink(t, http.StatusServiceUnavailable)
	e, h, logs := opEnv(t, slack, pager)
	e.draft(status.ComponentImpact{ID: "ocsp", Status: status.MajorOutage})
	e.opDrain(h)
	if n := len(pager.got()); n != 1 {
		t.Fatalf("pager posts %d, want 1", n)
	}
	e.clk.Advance(59 * time.Second)
	e.opDrain(h)
	if n := len(pager.got()); n != 1 {
		t.Fatalf("retried before notify.retry.initial (1m): %d posts", n)
	}
	e.clk.Advance(time.Second)
	e.opDrain(h)
	js := pager.got()
	if len(js) != 2 || js[0].header.Get(HeaderDelivery) != js[1].header.Get(HeaderDelivery) || !bytes.Equal(js[0].body, js[1].body) {
		t.Fatalf("retry: %d posts, delivery ids %q", len(js), js[0].header.Get(HeaderDelivery))
	}
	if len(slack.got()) != 1 || testutil.ToFloat64(h.failed.WithLabelValues("oncall", OperatorReasonPermanent)) != 1 ||
		testutil.ToFloat64(h.failed.WithLabelValues("pager", OperatorReasonTemporary)) != 1 || testutil.ToFloat64(h.sent.WithLabelValues("pager")) != 1 {
		t.Errorf("metrics: permanent{oncall} %v temporary{pager} %v sent{pager} %v; slack posts %d", testutil.ToFloat64(h.failed.WithLabelValues("oncall", OperatorReasonPermanent)),
			testutil.ToFloat64(h.failed.WithLabelValues("pager", OperatorReasonTemporary)), testutil.ToFloat64(h.sent.WithLabelValues("pager")), len(slack.got()))
	}

	// The Slack webhook goes away: retried with backoff until give_up_after (1h).
	slack.srv.Close()
	e.draft(status.ComponentImpact{ID: "crl", Status: status.MajorOutage})
	for range 20 {
		e.opDrain(h)
		e.clk.Advance(10 * time.Minute)
	}
	logs2, err := e.st.OperatorDeliveries(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, l := range logs2 {
		states[fmt.Sprintf("%s/%d", l.Webhook, l.IncidentID)] = l.State
		if strings.Contains(l.LastError, "SECRETTOKEN") || strings.Contains(l.LastError, "/services/") {
			t.Errorf("stored error quotes the URL: %q", l.LastError)
		}
	}
	if states["oncall/1"] != store.OperatorFailed || states["pager/1"] != store.OperatorSent || states["oncall/2"] != store.OperatorFailed || states["pager/2"] != store.OperatorSent {
		t.Errorf("states %v", states)
	}
	if got := testutil.ToFloat64(h.failed.WithLabelValues("oncall", OperatorReasonExpired)); got != 1 {
		t.Errorf("expired{oncall} = %v, want 1", got)
	}
	if strings.Contains(logs.String(), "SECRETTOKEN") || strings.Contains(logs.String(), "/services/") {
		t.Errorf("the Slack URL is in the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "webhook=oncall") {
		t.Errorf("failures are logged by the webhook's name:\n%s", logs)
	}
}

// TestOperatorWebhooksSurviveACrash: an event queued but not sent when
// the process dies (after its claim: once the claim's hold has passed; or
// while a post hangs at shutdown: at once) is sent by the next run: at
// least once.
func TestOperatorWebhooksSurviveACrash(t *testing.T) {
	slack, pager := newOpSink(t), newOpSink(t)
	e, _, _ := opEnv(t, slack, pager)
	e.draft(status.ComponentImpact{ID: "ocsp", Status: status.MajorOutage})
	// A run fans out and claims, then dies before posting.
	if _, err := e.st.FanOutOperator(e.ctx, map[string][]string{store.OperatorDraftCreated: {"oncall", "pager"}}); err != nil {
		t.Fatal(err)
	}
	if ds, err := e.st.DueOperatorDeliveries(e.ctx, 20, operatorHold(e.cfg)); err != nil || len(ds) != 2 {
		t.Fatalf("claimed %d, %v", len(ds), err)
	}
	// The next run finds them held by the dead one until the hold passes.
	var logs bytes.Buffer
	e.opDrain(e.opHooks(&logs))
	if n := len(pager.got()) + len(slack.got()); n != 0 {
		t.Fatalf("%d posts while the dead run's claim holds", n)
	}
	e.clk.Advance(operatorHold(e.cfg))
	// The next run: a post hangs and the daemon shuts down under it.
	h := e.opHooks(&logs)
	pager.mu.Lock()
	pager.hold = make(chan struct{})
	pager.mu.Unlock()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- h.Drain(ctx) }()
	select {
	case <-pager.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the hanging post never arrived")
	}
	cancel()
	if err := <-done; err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
	// A third run sends what is left.
	e.opDrain(e.opHooks(&logs))
	if n := len(pager.got()); n != 2 {
		t.Errorf("pager got %d posts, want 2 (the abandoned one, then again)", n)
	}
	if n := len(slack.got()); n != 1 {
		t.Errorf("slack got %d posts, want 1", n)
	}
	if pending, err := e.st.PendingOperatorDeliveries(e.ctx); err != nil || pending != 0 {
		t.Errorf("pending %d, %v", pending, err)
	}
}

// TestOperatorWebhookRemovedFromConfig: a delivery owed to a webhook the
// configuration no longer has is dropped, not retried for ever.
func TestOperatorWebhookRemovedFromConfig(t *testing.T) {
	slack, pager := newOpSink(t), newOpSink(t)
	e, h, _ := opEnv(t, slack, pager)
	e.draft(status.ComponentImpact{ID: "ocsp", Status: status.MajorOutage})
	if _, err := e.st.FanOutOperator(e.ctx, map[string][]string{store.OperatorDraftCreated: {"oncall", "pager"}}); err != nil {
		t.Fatal(err)
	}
	cfg := *e.cfg
	cfg.Notify.OperatorWebhooks = cfg.Notify.OperatorWebhooks[1:]
	e.cfg = &cfg
	e.opDrain(h)
	ls, _ := e.st.OperatorDeliveries(e.ctx)
	if len(ls) != 2 || ls[0].State != store.OperatorDropped || ls[1].State != store.OperatorSent || len(slack.got()) != 0 {
		t.Errorf("deliveries %+v, slack posts %d", ls, len(slack.got()))
	}
}

// The operator event kinds of the store and of the config are the same list.
func TestOperatorEventKindsAgree(t *testing.T) {
	if !slices.Equal(store.OperatorEventKinds(), config.OperatorEvents) {
		t.Errorf("store %v, config %v", store.OperatorEventKinds(), config.OperatorEvents)
	}
}

// TestOperatorSlackLongMessage: a message longer than Slack takes in a
// section block is clipped there (Slack would refuse the whole post and
// the event would be lost); the text field keeps it whole.
func TestOperatorSlackLongMessage(t *testing.T) {
	slack, pager := newOpSink(t), newOpSink(t)
	e, h, _ := opEnv(t, slack, pager)
	long := strings.Repeat("応答が古い。", 1000)
	if _, err := e.st.CreateDraft(e.ctx, "alice", status.NewIncident{Title: status.Text{"en": "Stale <OCSP> & co"}, Body: status.Text{"en": long, "ja": long},
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}}); err != nil {
		t.Fatal(err)
	}
	e.opDrain(h)
	var m struct {
		Text   string
		Blocks []struct{ Text *struct{ Text string } }
	}
	if err := json.Unmarshal(slack.got()[0].body, &m); err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(m.Blocks[0].Text.Text)); n != slackSectionMax || !strings.HasSuffix(m.Blocks[0].Text.Text, "…") {
		t.Errorf("section text %d characters, want clipped to %d", n, slackSectionMax)
	}
	if !strings.Contains(m.Text, long) || !strings.Contains(m.Text, "Stale &lt;OCSP&gt; &amp; co") {
		t.Errorf("text field: the message whole, the title escaped for mrkdwn; got %.200q", m.Text)
	}
}
