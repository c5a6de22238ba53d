package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// Two holders on one PostgreSQL database with LISTEN unavailable to both
// (FollowOptions.NoListen: a listening connection killed on the server is
// replaced at once, so killing them no longer keeps them away): each polls
// the change counter at its default interval, 500 ms, and a change
// committed on one holder is still on the other's public page within the
// 2 s aim (the poll plus the page's 1 s rebuild spacing: 1.5 s at worst):
// an incident published on the follower shows on the leader's page, its
// resolution on the leader shows on the follower's, each once the observing holder has heard a change by polling (a rebuild
// already due at start-up may show the first one sooner).
func TestTwoHoldersFollowByPollingAtTheDefault(t *testing.T) {
	target, _ := faultyTarget(t)
	dsn := pg.DSN(t)
	t.Setenv("PROBED_TEST_POLL_DSN", dsn)
	// Poll stays at its default; the holders never listen.
	opts := DaemonOptions{Follow: store.FollowOptions{NoListen: true}}
	hs := []*holder{startHolderWith(t, "PROBED_TEST_POLL_DSN", "tokyo", target, opts), startHolderWith(t, "PROBED_TEST_POLL_DSN", "osaka", target, opts)}
	metric := func(h *holder, name string, labels ...string) float64 {
		return (&scraper{t: t, url: h.base + "/metrics"}).value(name, labels...)
	}
	var lead, follower *holder
	eventually(t, "one holder leading", func() (bool, string) {
		l0, l1 := metric(hs[0], "probed_leader"), metric(hs[1], "probed_leader")
		lead, follower = hs[0], hs[1]
		if l1 == 1 {
			lead, follower = hs[1], hs[0]
		}
		return l0+l1 == 1, fmt.Sprintf("leading: %v, %v", l0, l1)
	})

	eventually(t, "both holders polling", func() (bool, string) {
		a, b := metric(hs[0], "probed_store_listening"), metric(hs[1], "probed_store_listening")
		return a == 0 && b == 0, fmt.Sprintf("listening: tokyo %v, osaka %v", a, b)
	})
	for _, h := range hs {
		if l := h.log(); !strings.Contains(l, "polling the change counter") || !strings.Contains(l, "poll=500ms") {
			t.Fatalf("%s did not log that it polls every 500ms:\n%s", h.base, l)
		}
	}

	token := holderToken(t, follower)
	for i := range 3 {
		title := fmt.Sprintf("Published on the follower %d", i)
		var inc status.Incident
		polled := metric(lead, "probed_store_changes_heard_total", "via", "poll")
		published := time.Now()
		if code := follower.call(t, token, http.MethodPost, "/api/v1/incidents",
			fmt.Sprintf(`{"title": %q, "message": "x", "publish": true, "components": [{"id": "api", "status": "major_outage"}]}`, title), &inc); code != http.StatusCreated && code != http.StatusOK {
			t.Fatalf("create on the follower = %d", code)
		}
		took := withinAim(t, published, "the follower's incident on the leader's page, polling", func() (bool, string) {
			st, p := lead.publicIncident(t, title), metric(lead, "probed_store_changes_heard_total", "via", "poll")
			return st != "" && p > polled, fmt.Sprintf("leader's page: status %q, changes heard by polling %v (before: %v)", st, p, polled)
		})
		t.Logf("published on the follower: on the leader's page after %s (polling every 500ms)", took.Round(time.Millisecond))

		polled = metric(follower, "probed_store_changes_heard_total", "via", "poll")
		resolved := time.Now()
		if code := lead.call(t, token, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/resolve", inc.ID), `{"message": "Fixed."}`, nil); code != http.StatusOK {
			t.Fatalf("resolve on the leader = %d", code)
		}
		took = withinAim(t, resolved, "the leader's resolution on the follower's page, polling", func() (bool, string) {
			st, p := follower.publicIncident(t, title), metric(follower, "probed_store_changes_heard_total", "via", "poll")
			return st == "resolved" && p > polled, fmt.Sprintf("follower's page: status %q, changes heard by polling %v (before: %v)", st, p, polled)
		})
		t.Logf("resolved on the leader: on the follower's page after %s (polling every 500ms)", took.Round(time.Millisecond))
	}
	for _, h := range hs {
		if v := metric(h, "probed_store_listening"); v != 0 {
			t.Errorf("%s listens again (%v): the changes above may not have come by polling", h.base, v)
		}
	}
}
