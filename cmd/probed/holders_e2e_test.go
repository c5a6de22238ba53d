package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/internal/mailsink"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
	"github.com/probed/probed/web"
)

// Several holders on one PostgreSQL database, as built binaries: each
// probes the same target as its own location; one leads.

// faultyTarget is an HTTP endpoint that answers 200, or 503 once broken.
func faultyTarget(t *testing.T) (url string, broken *atomic.Bool) {
	broken = new(atomic.Bool)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			http.Error(w, "broken", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL, broken
}

// holderConfig writes holder name's config: the shared database (its DSN
// in a file), its own location, the one probe and the mail relay.
func holderConfig(t *testing.T, dir, dsnFile, name, target string, smtpPort int) string {
	t.Helper()
	path := filepath.Join(dir, name+".yaml")
	writeFile(t, path, fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {driver: postgres, dsn_file: %q, holder: %s}
location: %s
page: {name: Example CA, url: "http://status.example.test"}
components: [{id: ocsp, name: OCSP}]
probes:
  - {name: ocsp-http, component: ocsp, kind: http, interval: 1s, timeout: 500ms, http: {url: %q}}
incidents: {failures_to_open: 2, successes_to_close: 2}
notify:
  from: "Example CA Status <noreply@example.test>"
  smtp: {host: 127.0.0.1, port: %d, tls: none, timeout: 5s}
  concurrency: 4
  per_connection: 50
  retry: {initial: 1s, max: 2s, give_up_after: 1h}
`, dsnFile, name, "loc-"+name, target, smtpPort))
	return path
}

// dashboardPage is the console's dashboard on the holder at addr, read
// with an operator token.
func dashboardPage(t *testing.T, addr, tok string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/admin/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/ on %s = %d %s", addr, resp.StatusCode, b)
	}
	return string(b)
}

// leaders returns which of the daemons say they lead (probed_leader 1).
func leaders(t *testing.T, ds ...*daemon) []int {
	var out []int
	for i, d := range ds {
		if d == nil {
			continue
		}
		m := &scraper{t: t, url: "http://" + d.addr + "/metrics"}
		if m.value("probed_leader") == 1 {
			out = append(out, i)
		}
	}
	return out
}

func incidentsIn(t *testing.T, st *store.Store) []status.Incident {
	t.Helper()
	list, err := st.ListIncidents(context.Background(), store.IncidentFilter{Kind: status.KindIncident, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// Two holders on one PostgreSQL: exactly one leads; a fault both see
// drafts exactly one incident, with both holders' locations as evidence
// (the follower's results reach the leader's engine); GET /-/leader on the
// follower names the leader.
func TestTwoHoldersOnePostgresDraftOnce(t *testing.T) {
	p := newHolderPair(t, 1)
	bin, cfgA, cfgB, dsn, broken, tok := p.bin, p.cfgA, p.cfgB, p.dsn, p.broken, p.tok
	a := startProbed(t, bin, cfgA)
	b := startProbed(t, bin, cfgB)
	eventually(t, "exactly one leader", func() (bool, string) {
		l := leaders(t, a, b)
		return len(l) == 1, fmt.Sprintf("leading: %v", l)
	})
	lead, follow, leadName := a, b, "a"
	if leaders(t, a, b)[0] == 1 {
		lead, follow, leadName = b, a, "b"
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+follow.addr+"/-/leader", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ls web.LeaderStatus
	json.NewDecoder(resp.Body).Decode(&ls)
	resp.Body.Close()
	if resp.StatusCode != 200 || ls.Leading || !ls.Lease.Live || ls.Lease.Holder != leadName || ls.Lease.Epoch < 1 {
		t.Fatalf("GET /-/leader on the follower = %d %+v; want the lease held by %s", resp.StatusCode, ls, leadName)
	}
	lead.waitLog(`msg="this holder leads now`)
	// Each holder's console dashboard says the same: who leads, at which
	// epoch, and its own role.
	for _, h := range []struct {
		d          *daemon
		name, role string
	}{{lead, leadName, "leads"}, {follow, map[string]string{"a": "b", "b": "a"}[leadName], "follows"}} {
		page := dashboardPage(t, h.d.addr, tok)
		if want := fmt.Sprintf(`Leader: <strong>%s</strong> · epoch <strong id="lead-epoch">%d</strong>`, leadName, ls.Lease.Epoch); !strings.Contains(page, want) ||
			!strings.Contains(page, fmt.Sprintf(`This holder: <strong>%s</strong> — <span id="this-role">%s`, h.name, h.role)) || strings.Contains(page, `id="no-leader"`) {
			t.Errorf("the console of holder %s does not say %s leads at epoch %d and it %s:\n%s", h.name, leadName, ls.Lease.Epoch, h.role, page)
		}
	}

	st, err := store.Open(context.Background(), store.Options{Driver: "postgres", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	broken.Store(true)
	var draft status.Incident
	eventually(t, "one draft with evidence from both holders' locations", func() (bool, string) {
		list := incidentsIn(t, st)
		if len(list) != 1 {
			return false, fmt.Sprintf("%d incidents", len(list))
		}
		draft = list[0]
		locs := map[string]bool{}
		for _, e := range draft.Evidence {
			locs[e.Location] = true
		}
		return draft.State == status.StateDraft && locs["loc-a"] && locs["loc-b"], fmt.Sprintf("%s, evidence from %v", draft.State, locs)
	})
	// Both keep failing and reporting; the leader keeps evaluating (the
	// inbox drains again after more runs), and nothing more is drafted.
	written := func() float64 {
		return (&scraper{t: t, url: "http://" + a.addr + "/metrics"}).value("probed_store_results_written_total") +
			(&scraper{t: t, url: "http://" + b.addr + "/metrics"}).value("probed_store_results_written_total")
	}
	base := written()
	eventually(t, "six more runs written and evaluated by the leader", func() (bool, string) {
		n, _ := st.InboxLength(context.Background())
		return written() >= base+6 && n == 0, fmt.Sprintf("written %v (from %v), inbox %d", written(), base, n)
	})
	if list := incidentsIn(t, st); len(list) != 1 || list[0].ID != draft.ID {
		t.Fatalf("incidents = %d, want the one draft", len(list))
	}
	if strings.Contains(follow.stderr(), "draft incident created") {
		t.Error("the follower drafted")
	}
	if n := strings.Count(lead.stderr(), "draft incident created"); n != 1 {
		t.Errorf("the leader logged %d drafts, want 1", n)
	}
	if l := leaders(t, a, b); len(l) != 1 {
		t.Errorf("leaders at the end: %v", l)
	}

	// Approved through the follower's operator API, the incident is on the
	// leader's public page (JSON API and /) within 2 s of the approval's
	// answer: the follower writes, the leader hears the change (LISTEN/
	// NOTIFY) and rebuilds its snapshot.
	title := draft.Title.In("en")
	if st := publicIncidentAt(t, "http://"+lead.addr, title); st != "" {
		t.Fatalf("the leader's page shows the draft (%s) before approval", st)
	}
	req, _ = http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/api/v1/incidents/%d/approve", follow.addr, draft.ID), strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approve on the follower = %d", resp.StatusCode)
	}
	approved := time.Now()
	took := withinAim(t, approved, "the follower's approval on the leader's public page", func() (bool, string) {
		st := publicIncidentAt(t, "http://"+lead.addr, title)
		if st == "" {
			return false, "not in the leader's incidents.json"
		}
		code, page := getStatus(t, "http://"+lead.addr+"/")
		return code == http.StatusOK && strings.Contains(page, title), fmt.Sprintf("incidents.json: %s; / = %d, with the title: %v", st, code, strings.Contains(page, title))
	})
	t.Logf("approved on holder %s (a built binary): on the leader's public page (incidents.json and /) %s after the approval answered (aim %s)",
		map[string]string{"a": "b", "b": "a"}[leadName], took.Round(time.Millisecond), propagation)

	// A maintenance scheduled on the follower to start now starts at once:
	// the change the leader hears wakes its engine (its own next tick is
	// up to 30 s away).
	body := fmt.Sprintf(`{"title": "Responder upgrade", "components": ["ocsp"], "scheduled_for": %q, "scheduled_until": %q}`,
		time.Now().UTC().Format(time.RFC3339Nano), time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))
	req, _ = http.NewRequest(http.MethodPost, "http://"+follow.addr+"/api/v1/maintenances", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("schedule a maintenance on the follower: %d", resp.StatusCode)
	}
	scheduled := time.Now()
	eventually(t, "the maintenance in progress", func() (bool, string) {
		list, err := st.ListIncidents(context.Background(), store.IncidentFilter{Kind: status.KindMaintenance, Limit: 10})
		if err != nil || len(list) != 1 {
			return false, fmt.Sprintf("%d maintenances, %v", len(list), err)
		}
		return list[0].Status == status.StatusInProgress, list[0].Status
	})
	if took := time.Since(scheduled); took > 5*time.Second {
		t.Errorf("the maintenance scheduled on the follower started %s later: the leader waited for its own tick", took.Round(time.Millisecond))
	} else {
		t.Logf("the maintenance scheduled on the follower was in progress %s later", took.Round(time.Millisecond))
	}
}

// TestLeaderKilledDuringFanOut: two holders; a fault drafts one incident,
// approved through the follower; while the leader sends the mail to 4,000
// subscribers it is killed with SIGKILL. The other holder leads within
// 15 s, every subscriber gets the mail, duplicates are no more than the
// in-doubt deliveries the new leader counted sending again, and the
// incident, still failing, is not drafted again.
func TestLeaderKilledDuringFanOut(t *testing.T) {
	const subscribers = 4000
	sink, err := mailsink.Start(mailsink.Options{Discard: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	p := newHolderPair(t, sink.Port())
	bin, cfgA, cfgB, dsn, broken, tok := p.bin, p.cfgA, p.cfgB, p.dsn, p.broken, p.tok

	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	{
		// 4,000 subscribers, added by 8 writers at once.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < subscribers; i += 8 {
					if _, err := st.AddSubscriber(ctx, store.SubscriberEmail, fmt.Sprintf("s%d@example.com", i), []string{"ocsp"}, ""); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	hs := []*daemon{startProbed(t, bin, cfgA), startProbed(t, bin, cfgB)}
	eventually(t, "exactly one leader", func() (bool, string) {
		l := leaders(t, hs...)
		return len(l) == 1, fmt.Sprintf("leading: %v", l)
	})
	li := leaders(t, hs...)[0]
	lead, follow := hs[li], hs[1-li]
	broken.Store(true)
	var draft status.Incident
	eventually(t, "the draft", func() (bool, string) {
		list := incidentsIn(t, st)
		if len(list) == 1 {
			draft = list[0]
		}
		return len(list) == 1, fmt.Sprintf("%d incidents", len(list))
	})
	// Approved on the follower: the leader fans out and sends.
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/api/v1/incidents/%d/approve", follow.addr, draft.ID), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approve on the follower: %d", resp.StatusCode)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := sink.Wait(wctx, func(n int) bool { return n >= subscribers/4 }); err != nil {
		t.Fatal(err)
	}
	lead.signal(syscall.SIGKILL)
	killed := time.Now()
	lead.wait()
	atKill := sink.Total()
	// The killed leader's deliveries begun and not recorded: the only ones
	// the new leader may send again (the dead process can add none).
	inDoubt, err := st.InDoubtDeliveries(ctx, "none")
	if err != nil {
		t.Fatal(err)
	}
	counts, err := st.DeliveryCounts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("leader killed after %d mails: outbox %v, %d in doubt", atKill, counts, inDoubt)
	if atKill >= subscribers || counts["pending"] == 0 {
		t.Fatalf("the kill came too late to test anything: %d of %d sent, outbox %v", atKill, subscribers, counts)
	}

	m := &scraper{t: t, url: "http://" + follow.addr + "/metrics"}
	tick := time.NewTicker(20 * time.Millisecond)
	for m.value("probed_leader") != 1 {
		if time.Since(killed) > 15*time.Second {
			t.Fatalf("no holder leads %s after the leader was killed", time.Since(killed).Round(time.Millisecond))
		}
		<-tick.C
	}
	tick.Stop()
	took := time.Since(killed)
	t.Logf("the other holder leads %s after the kill", took.Round(time.Millisecond))

	if err := sink.WaitFor(wctx, func(_, recipients int) bool { return recipients == subscribers }); err != nil {
		t.Fatalf("not every subscriber served: %v (%d recipients)", err, len(sink.Received()))
	}
	eventually(t, "the outbox all sent", func() (bool, string) {
		c, _ := st.DeliveryCounts(ctx, 0)
		return c["sent"] == subscribers && c["pending"] == 0, fmt.Sprint(c)
	})
	redelivered := int(m.value("probed_notifications_redelivered_total"))
	got := sink.Received()
	dups := 0
	for i := range subscribers {
		n := got[fmt.Sprintf("s%d@example.com", i)]
		if n == 0 {
			t.Errorf("s%d@example.com got no mail", i)
		}
		dups += n - 1
	}
	t.Logf("after failover: %d mails to %d subscribers, %d duplicates, %d in doubt at the kill, %d sent again as in doubt", sink.Total(), len(got), dups, inDoubt, redelivered)
	if redelivered > inDoubt || dups > inDoubt {
		t.Errorf("%d duplicates and %d sent again as in doubt, want each at most the %d deliveries in doubt at the kill", dups, redelivered, inDoubt)
	}
	if dups > redelivered {
		t.Errorf("%d duplicates, more than the %d in-doubt deliveries the new leader counted", dups, redelivered)
	}
	// Still failing: the new leader has evaluated fresh results of both
	// locations (the survivor's) and drafted nothing more.
	written := (&scraper{t: t, url: "http://" + follow.addr + "/metrics"}).value("probed_store_results_written_total")
	eventually(t, "the new leader to evaluate three more runs", func() (bool, string) {
		w := m.value("probed_store_results_written_total")
		n, _ := st.InboxLength(ctx)
		return w >= written+3 && n == 0, fmt.Sprintf("written %v, inbox %d", w, n)
	})
	list := incidentsIn(t, st)
	if len(list) != 1 || list[0].ID != draft.ID || list[0].State != status.StatePublished {
		t.Fatalf("incidents after failover: %d (want the one, published)", len(list))
	}
	// Neither holder's first start warned of an unclean stop (the other's
	// running heartbeat row is not its own); the killed holder, started
	// again, reports its own.
	const unclean = "did not stop cleanly"
	for _, h := range hs {
		if strings.Contains(h.stderr(), unclean) {
			t.Errorf("a holder's first start warned of an unclean stop (another holder's running row):\n%s", h.stderr())
		}
	}
	again := startProbed(t, bin, []string{cfgA, cfgB}[li])
	if l := again.waitLog(unclean); !strings.Contains(l, "holder="+[]string{"a", "b"}[li]) {
		t.Errorf("the killed holder's restart reported another holder's run: %s", l)
	}
}
