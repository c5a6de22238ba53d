package incident

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/pgtest"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

var pg = new(pgtest.Server)

func TestMain(m *testing.M) { pgtest.Main(m, pg) }

// holder is one of several holders on one PostgreSQL database: its store
// (which hands its results to the leader inbox) and its engine.
type holder struct {
	name  string
	st    *store.Store
	eng   *Engine
	epoch int64
}

func twoHolderEngines(t *testing.T, incidents string) (a, b *holder, cfg *config.Config, clk *clock.Fake) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "probes.yaml")
	if err := os.WriteFile(path, []byte(baseConfig+incidents), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, probes.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	clk = clock.NewFake(time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC))
	dsn := pg.DSN(t)
	open := func(name string) *holder {
		st, err := store.Open(context.Background(), store.Options{Driver: "postgres", DSN: dsn, Clock: clk, InboxHolder: name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		eng, err := New(context.Background(), Options{Store: st, Config: func() *config.Config { return cfg }, Clock: clk,
			Registerer: prometheus.NewRegistry(), Holder: name})
		if err != nil {
			t.Fatal(err)
		}
		return &holder{name: name, st: st, eng: eng}
	}
	return open("holder-a"), open("holder-b"), cfg, clk
}

// lead takes the lease (ttl) and makes h's engine the leader's.
func (h *holder) lead(t *testing.T, ttl time.Duration) context.Context {
	t.Helper()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for h.epoch == 0 {
		if h.epoch, err = h.st.Lead(context.Background(), h.name, ttl, 0); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never took the lease", h.name)
		}
	}
	ctx := store.Fenced(context.Background(), h.epoch)
	if err := h.eng.Lead(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// record has h probe as location (failing or not) and waits until the
// result is written, with its copy for the leader.
func (h *holder) record(t *testing.T, cfg *config.Config, clk *clock.Fake, probe, location string, ok bool) {
	t.Helper()
	p := cfg.Probe(probe)
	r := probes.Result{Probe: probe, Kind: p.Kind, Component: p.Component, Location: location, Start: clk.Now(), Duration: 100 * time.Millisecond, Success: ok,
		Checks: []probes.Check{{Name: "http_status", OK: ok, Message: "status 503, want 200"}}}
	if err := h.st.Record(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if err := h.st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Two holders probe as their own locations; only the leader evaluates,
// from the inbox both fill, with today's quorum: one location down drafts
// nothing, two draft exactly one incident with both as evidence. The
// follower drafts nothing and hands its Alertmanager deliveries on. When
// the lease changes hands the new leader rebuilds its state from the
// database and drafts nothing twice, while the deposed one is refused.
func TestSeveralHoldersOneLeaderDraftsOnce(t *testing.T) {
	a, b, cfg, clk := twoHolderEngines(t, "incidents: {failures_to_open: 2, successes_to_close: 2, quorum: 2}\n")
	actx := a.lead(t, time.Millisecond) // a's lease expires at once: b can take it later
	if !a.eng.Leading() || b.eng.Leading() {
		t.Fatalf("leading: a %v, b %v", a.eng.Leading(), b.eng.Leading())
	}
	for range 2 {
		a.record(t, cfg, clk, "crl", "tokyo-1", false)
		clk.Advance(30 * time.Second)
	}
	if err := a.eng.drainLeaderInbox(actx); err != nil {
		t.Fatal(err)
	}
	if list, _ := a.st.ListIncidents(context.Background(), store.IncidentFilter{Kind: status.KindIncident}); len(list) != 0 {
		t.Fatalf("one location of a quorum of two drafted: %s", describe(list))
	}
	// What the results moved is saved before they leave the inbox.
	if hs, _ := a.st.LoadProbeHealth(context.Background()); len(hs) != 1 || hs[0].Location != "tokyo-1" || !hs[0].Down {
		t.Fatalf("saved probe health after the inbox drained: %+v, want tokyo-1 down", hs)
	}
	// b, a follower, probes from osaka-1: its results reach a's engine.
	for range 2 {
		b.record(t, cfg, clk, "crl", "osaka-1", false)
		clk.Advance(30 * time.Second)
	}
	if err := b.eng.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if list, _ := b.st.ListIncidents(context.Background(), store.IncidentFilter{Kind: status.KindIncident}); len(list) != 0 {
		t.Fatalf("the follower drafted: %s", describe(list))
	}
	if err := a.eng.drainLeaderInbox(actx); err != nil {
		t.Fatal(err)
	}
	list, _ := a.st.ListIncidents(context.Background(), store.IncidentFilter{Kind: status.KindIncident})
	if len(list) != 1 || list[0].State != status.StateDraft {
		t.Fatalf("incidents = %s, want one draft", describe(list))
	}
	if got := evidenceAt(list[0]); len(got) != 2 || got[0] != "probe@osaka-1" || got[1] != "probe@tokyo-1" {
		t.Fatalf("evidence = %v, want both holders' locations", got)
	}
	if n, _ := a.st.InboxLength(context.Background()); n != 0 {
		t.Fatalf("%d items left in the inbox after the leader evaluated them", n)
	}
	// The follower's view (its console and /metrics) catches up on Refresh.
	if ch, _ := b.eng.ComponentHealth(context.Background()); ch["crl"].Status != status.Operational && ch["crl"].Status != "" {
		t.Fatalf("the follower knew of the outage before refreshing: %+v", ch["crl"])
	}
	if err := b.eng.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ch, _ := b.eng.ComponentHealth(context.Background()); ch["crl"].Status != status.MajorOutage {
		t.Fatalf("the follower's view after Refresh: crl %+v, want major_outage", ch["crl"])
	}
	if locs, _ := b.eng.Locations(context.Background()); len(locs) != 2 {
		t.Fatalf("the follower's locations after Refresh: %+v, want tokyo-1 and osaka-1", locs)
	}
	// The follower hands an Alertmanager delivery to the leader.
	rep, err := b.eng.ReceiveAlerts(context.Background(), "alertmanager", &Payload{Version: "4", Status: "firing",
		Alerts: []PayloadAlert{locAlert("ocsp-good", "ocsp", "paris-1", clk.Now(), clk.Now(), 3)}})
	if err != nil || !rep.QueuedForLeader {
		t.Fatalf("follower's delivery: %+v, %v; want queued for the leader", rep, err)
	}
	if err := a.eng.drainLeaderInbox(actx); err != nil {
		t.Fatal(err)
	}
	if al, _ := a.st.FiringAlerts(context.Background()); len(al) != 1 || al[0].Labels["location"] != "paris-1" {
		t.Fatalf("firing alerts after the leader read its inbox: %+v", al)
	}

	// b takes the lease (a's has expired): it rebuilds from the database
	// and, ticking, finds the draft there: nothing is drafted twice.
	bctx := b.lead(t, 10*time.Second)
	if b.epoch != a.epoch+1 {
		t.Fatalf("b leads at epoch %d, a led at %d", b.epoch, a.epoch)
	}
	if err := b.eng.Tick(bctx); err != nil {
		t.Fatal(err)
	}
	b.record(t, cfg, clk, "crl", "osaka-1", false)
	if err := b.eng.drainLeaderInbox(bctx); err != nil {
		t.Fatal(err)
	}
	if list, _ := b.st.ListIncidents(context.Background(), store.IncidentFilter{Kind: status.KindIncident}); len(list) != 1 {
		t.Fatalf("after the change of leader: %s, want still the one draft", describe(list))
	}
	// a, deposed and not told yet, wakes late: refused.
	a.record(t, cfg, clk, "crl", "tokyo-1", true)
	if err := a.eng.drainLeaderInbox(actx); !errors.Is(err, store.ErrDeposed) {
		t.Fatalf("deposed leader reading the inbox: %v, want ErrDeposed", err)
	}
	if err := a.eng.Tick(actx); !errors.Is(err, store.ErrDeposed) {
		t.Fatalf("deposed leader's tick: %v, want ErrDeposed", err)
	}
	a.eng.Follow()
	if err := a.eng.Tick(actx); err != nil {
		t.Fatalf("a follower's tick does nothing: %v", err)
	}
	// Both locations recover; the new leader withdraws the draft.
	for range 2 {
		clk.Advance(30 * time.Second)
		a.record(t, cfg, clk, "crl", "tokyo-1", true)
		b.record(t, cfg, clk, "crl", "osaka-1", true)
	}
	if err := b.eng.drainLeaderInbox(bctx); err != nil {
		t.Fatal(err)
	}
	list, _ = b.st.ListIncidents(context.Background(), store.IncidentFilter{Kind: status.KindIncident})
	if len(list) != 1 || list[0].State != status.StateWithdrawn {
		t.Fatalf("after recovery: %s, want the one draft withdrawn", describe(list))
	}
}

// An Alertmanager delivery the leader receives itself is applied under its
// lease epoch like its other duties: while it leads it is applied at once;
// once another holder has taken the lease (the leader paused past it and
// does not know yet), nothing it writes lands and the delivery is handed
// to the new leader's inbox, which applies it.
func TestDeposedLeaderReceivingAlertsWritesNothing(t *testing.T) {
	a, b, _, clk := twoHolderEngines(t, "incidents: {failures_to_open: 1, successes_to_close: 1}\n")
	a.lead(t, time.Millisecond)
	deliver := func(h *holder, probe string) AlertReport {
		t.Helper()
		rep, err := h.eng.ReceiveAlerts(context.Background(), "alertmanager", &Payload{Version: "4", Status: "firing",
			Alerts: []PayloadAlert{locAlert(probe, "ocsp", "paris-1", clk.Now(), clk.Now(), 1)}})
		if err != nil {
			t.Fatalf("%s receiving alerts: %v", h.name, err)
		}
		return rep
	}
	if rep := deliver(a, "ocsp-good"); rep.QueuedForLeader || rep.New != 1 {
		t.Fatalf("the leader's own delivery: %+v, want applied at once (1 new)", rep)
	}
	before, err := a.st.ListIncidents(context.Background(), store.IncidentFilter{Kind: status.KindIncident})
	if err != nil {
		t.Fatal(err)
	}
	bctx := b.lead(t, 10*time.Second) // a's lease has expired; a still believes it leads
	if !a.eng.Leading() {
		t.Fatal("a stopped leading on its own; the test needs a leader that does not know yet")
	}
	clk.Advance(time.Minute)
	rep := deliver(a, "ocsp-revoked")
	if !rep.QueuedForLeader {
		t.Fatalf("deposed leader's delivery: %+v, want handed to the leader", rep)
	}
	al, err := a.st.FiringAlerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(al) != 1 || al[0].Labels["probe"] != "ocsp-good" {
		t.Fatalf("firing alerts after the deposed leader's delivery: %+v, want only the one it applied while leading", al)
	}
	after, _ := a.st.ListIncidents(context.Background(), store.IncidentFilter{Kind: status.KindIncident})
	if describe(after) != describe(before) {
		t.Fatalf("the deposed leader's delivery changed incidents: %s, before %s", describe(after), describe(before))
	}
	if n, _ := b.st.InboxLength(context.Background()); n != 1 {
		t.Fatalf("leader inbox holds %d items, want the handed-on delivery", n)
	}
	if err := b.eng.drainLeaderInbox(bctx); err != nil {
		t.Fatal(err)
	}
	if al, _ := b.st.FiringAlerts(context.Background()); len(al) != 2 {
		t.Fatalf("firing alerts after the new leader read its inbox: %+v, want both", al)
	}
}

// Reading the leader inbox again counts nothing twice. A leader that
// evaluated a failure and saved the probe health, then died before the
// item left the inbox, leaves it to the next leader, and a holder that
// retried a commit which had in fact landed writes a result twice: with
// failures_to_open 2, neither makes one failure draft. The second real
// failure does.
func TestInboxReadAgainCountsNothingTwice(t *testing.T) {
	a, b, cfg, clk := twoHolderEngines(t, "incidents: {failures_to_open: 2, successes_to_close: 2}\n")
	actx := a.lead(t, time.Millisecond)
	a.record(t, cfg, clk, "crl", "tokyo-1", false)
	// a evaluates the failure and saves the health, and dies before AckInbox.
	items, err := a.st.TakeInbox(actx, inboxBatch)
	if err != nil || len(items) != 1 {
		t.Fatalf("inbox: %d items, %v; want the one failure", len(items), err)
	}
	var r probes.Result
	if err := json.Unmarshal(items[0].Body, &r); err != nil {
		t.Fatal(err)
	}
	if err := a.eng.evaluateBatch(actx, []probes.Result{r}); err != nil {
		t.Fatal(err)
	}
	if hs, _ := a.st.LoadProbeHealth(context.Background()); len(hs) != 1 || hs[0].Fails != 1 {
		t.Fatalf("saved probe health: %+v, want one failure counted", hs)
	}
	incidents := func() []status.Incident {
		t.Helper()
		list, err := b.st.ListIncidents(context.Background(), store.IncidentFilter{Kind: status.KindIncident})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	// b takes over and reads the same item again.
	bctx := b.lead(t, 10*time.Second)
	if err := b.eng.drainLeaderInbox(bctx); err != nil {
		t.Fatal(err)
	}
	if list := incidents(); len(list) != 0 {
		t.Fatalf("one failure read twice drafted: %s", describe(list))
	}
	if hs, _ := b.st.LoadProbeHealth(context.Background()); len(hs) != 1 || hs[0].Fails != 1 {
		t.Fatalf("probe health after the item was read again: %+v, want still one failure", hs)
	}
	if n, _ := b.st.InboxLength(context.Background()); n != 0 {
		t.Fatalf("%d items left in the inbox, want the one read again deleted", n)
	}
	// A result written twice (a retried commit that had landed) counts once.
	clk.Advance(30 * time.Second)
	b.record(t, cfg, clk, "crl", "osaka-1", false)
	b.record(t, cfg, clk, "crl", "osaka-1", false)
	if err := b.eng.drainLeaderInbox(bctx); err != nil {
		t.Fatal(err)
	}
	if list := incidents(); len(list) != 0 {
		t.Fatalf("one failure written twice drafted: %s", describe(list))
	}
	// The second real failure at tokyo-1 drafts.
	a.record(t, cfg, clk, "crl", "tokyo-1", false)
	if err := b.eng.drainLeaderInbox(bctx); err != nil {
		t.Fatal(err)
	}
	if list := incidents(); len(list) != 1 || list[0].State != status.StateDraft {
		t.Fatalf("after the second failure: %s, want one draft", describe(list))
	}
}
