package incident

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// While the engine holds its lock (as it does when it waits on a locked
// database), a run hands its result to the inbox without waiting and an
// operator action gives up with store.ErrBusy; once the lock is free, Run
// evaluates the queued results in order and drafts the outage.
func TestInboxNeverWaitsForTheEngine(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 3, successes_to_close: 2}\n")
	h.eng.mu.Lock() // the engine, busy with the database
	in := h.eng.Inbox()
	for range 3 {
		r := probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "tokyo-1", Start: h.clk.Now(), Success: false,
			Checks: []probes.Check{{Name: "crl_next_update", Message: "stale"}}}
		if err := in.Record(h.ctx, r); err != nil {
			t.Fatalf("Inbox().Record while the engine is busy: %v", err)
		}
		h.clk.Advance(30 * time.Second)
	}
	if got := len(h.eng.inbox); got != 3 {
		t.Errorf("%d results queued, want 3", got)
	}
	short, cancel := context.WithTimeout(h.ctx, 20*time.Millisecond)
	defer cancel()
	_, err := h.eng.CreateIncident(short, "alice", status.NewIncident{Title: status.Text{"en": "t"}, Body: status.Text{"en": "b"}, Origin: status.OriginManual,
		Components: []status.ComponentImpact{{ID: "api", Status: status.MajorOutage}}})
	if !errors.Is(err, store.ErrBusy) || !strings.Contains(err.Error(), "incident engine") {
		t.Fatalf("operator action while the engine is busy: %v, want store.ErrBusy naming the engine", err)
	}
	if n := len(h.incidents("")); n != 0 {
		t.Fatalf("%d incidents before the engine ran, want 0", n)
	}
	h.eng.mu.Unlock()

	ctx, stop := context.WithCancel(h.ctx)
	ran := make(chan error, 1)
	go func() { ran <- h.eng.Run(ctx) }()
	defer func() { stop(); <-ran }()
	waitUntil(t, "the queued failures to draft an incident", func() bool { return len(h.incidents(status.StateDraft)) == 1 })
	d := h.only(status.StateDraft)
	// A stale CRL is still served: partial_outage (README: impact table).
	if len(d.Components) != 1 || d.Components[0].ID != "crl" || d.Components[0].Status != status.PartialOutage {
		t.Errorf("draft = %+v, want crl partial_outage", d.Components)
	}
}

// A full inbox drops the result with an error and counts it.
func TestFullInboxDropsCounted(t *testing.T) {
	h := newHarness(t, "")
	reg := prometheus.NewRegistry()
	e, err := New(h.ctx, Options{Store: h.st, Config: func() *config.Config { return h.cfg }, Clock: h.clk, Registerer: reg, Inbox: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "tokyo-1", Start: h.clk.Now(), Success: true}
	if err := e.Inbox().Record(h.ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := e.Inbox().Record(h.ctx, r); err == nil || !strings.Contains(err.Error(), "inbox full") {
		t.Fatalf("Record on a full inbox: %v, want an inbox-full error", err)
	}
	if got := testutil.ToFloat64(e.dropped); got != 1 {
		t.Errorf("probed_incident_results_dropped_total = %v, want 1", got)
	}
}

// waitUntil polls cond until it holds, failing after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
