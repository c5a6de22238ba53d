package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/store"
)

// The dashboard says which holder leads, at which epoch and since when,
// and whether this holder leads or follows; a warning when no holder leads
// (the lease expired, or was never taken) or when the lease cannot be read
// (the rest of the dashboard still shows); nothing on SQLite, where the
// one process leads (Holder empty).
func TestDashboardShowsWhoLeads(t *testing.T) {
	h := newOpHarness(t)
	since := time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC)
	cases := []struct {
		name    string
		status  LeaderStatus
		err     error
		want    []string
		notWant []string
	}{
		{name: "this holder leads",
			status:  LeaderStatus{Holder: "tokyo-2", Leading: true, Lease: store.Leadership{Holder: "tokyo-2", Epoch: 7, Since: since, Expires: since.Add(time.Hour), Live: true}},
			want:    []string{`<p id="lead-holder">Leader: <strong>tokyo-2</strong> · epoch <strong id="lead-epoch">7</strong> · since 2026-03-01 08:30:00 UTC</p>`, `This holder: <strong>tokyo-2</strong> — <span id="this-role">leads`},
			notWant: []string{`id="no-leader"`}},
		{name: "another holder leads",
			status:  LeaderStatus{Holder: "osaka-2", Lease: store.Leadership{Holder: "tokyo-2", Epoch: 7, Since: since, Expires: since.Add(time.Hour), Live: true}},
			want:    []string{`Leader: <strong>tokyo-2</strong>`, `This holder: <strong>osaka-2</strong> — <span id="this-role">follows`},
			notWant: []string{`id="no-leader"`}},
		{name: "the lease expired",
			status:  LeaderStatus{Holder: "osaka-2", Lease: store.Leadership{Holder: "tokyo-2", Epoch: 7, Since: since, Expires: since.Add(10 * time.Second), Live: false}},
			want:    []string{`<p class="error" id="no-leader">No holder leads: the lease of tokyo-2 (epoch 7) expired at 2026-03-01 08:30:10 UTC.`, `<span id="this-role">follows`},
			notWant: []string{`id="lead-holder"`}},
		{name: "no holder ever led",
			status: LeaderStatus{Holder: "osaka-2", Lease: store.Leadership{}},
			want:   []string{`<p class="error" id="no-leader">No holder leads: no holder has taken the leader lease yet.`}},
		{name: "the lease unreadable",
			status: LeaderStatus{Holder: "osaka-2"}, err: fmt.Errorf("read leader lease: %w", store.ErrBusy),
			want: []string{`<p class="error" id="no-leader">Who leads is unknown: the leader lease could not be read. read leader lease: `}},
		{name: "sqlite",
			status:  LeaderStatus{Leading: true, Lease: store.Leadership{Epoch: 1, Live: true}},
			notWant: []string{`id="leader"`, `id="no-leader"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(Options{Config: func() *config.Config { return h.cfg }, Clock: h.clk, Store: h.st, Engine: h.eng,
				Leader: func(context.Context) (LeaderStatus, error) { return c.status, c.err }})
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/", nil)
			req.Header.Set("Authorization", "Bearer "+h.tok["bob"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page := string(b)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="drafts"`) {
				t.Fatalf("GET /admin/ = %d, want the dashboard:\n%s", resp.StatusCode, page)
			}
			for _, w := range c.want {
				if !strings.Contains(page, w) {
					t.Errorf("the dashboard lacks %q:\n%s", w, leaderSection(page))
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(page, w) {
					t.Errorf("the dashboard has %q:\n%s", w, leaderSection(page))
				}
			}
		})
	}
	// Without a Leader (a console on its own) the dashboard shows none.
	if _, body := h.do("bob", http.MethodGet, "/admin/", nil, nil); strings.Contains(body, `id="leader"`) || !strings.Contains(body, `id="drafts"`) {
		t.Errorf("a console without Leader shows a leader section, or no dashboard:\n%s", leaderSection(body))
	}
}

// leaderSection is the dashboard's leader section, for messages.
func leaderSection(page string) string {
	i := strings.Index(page, `<section id="leader"`)
	if i < 0 {
		return "(no leader section)"
	}
	j := strings.Index(page[i:], "</section>")
	if j < 0 {
		return page[i:]
	}
	return page[i : i+j]
}
