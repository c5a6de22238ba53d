package incident

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/status"

	"github.com/probed/probed/probes"
)

// Benchmarks of the engine's cost per probe result (rerun with
// go test -run '^$' -bench . -benchmem ./incident/).

// BenchmarkRecordHealthy: a passing result for a healthy probe, the common case.
func BenchmarkRecordHealthy(b *testing.B) {
	h := newHarness(b, "incidents: {failures_to_open: 3}\n")
	r := probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "tokyo-1", Success: true, Duration: time.Millisecond}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Start = h.clk.Now().Add(time.Duration(i) * time.Second)
		if err := h.eng.Record(h.ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordFailingWithDraft: a failing result for a component whose
// draft is open (the evidence row is refreshed each time).
func BenchmarkRecordFailingWithDraft(b *testing.B) {
	h := newHarness(b, "incidents: {failures_to_open: 1}\n")
	h.fail("crl", 1)
	if n := len(h.incidents(status.StateDraft)); n != 1 {
		b.Fatalf("%d drafts", n)
	}
	r := probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "tokyo-1", Duration: time.Millisecond,
		Checks: []probes.Check{{Name: "crl_next_update", Message: "stale", Evidence: map[string]string{"next_update": "x"}}}}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Start = h.clk.Now().Add(time.Duration(i) * time.Second)
		if err := h.eng.Record(h.ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordHealthyBigComponent: a passing result for one of 100
// healthy probes of one component (bench/scheduler's shape): evaluating the
// component must not walk its probes.
func BenchmarkRecordHealthyBigComponent(b *testing.B) {
	var more strings.Builder
	for i := range 99 {
		fmt.Fprintf(&more, "  - {name: crl-%d, component: crl, kind: http, http: {url: \"http://127.0.0.1:1/crl-%d\"}}\n", i, i)
	}
	h := newHarness(b, more.String()+"incidents: {failures_to_open: 3}\n")
	for i := range 99 {
		h.ok(fmt.Sprintf("crl-%d", i), 1)
	}
	r := probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "tokyo-1", Success: true, Duration: time.Millisecond}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Start = h.clk.Now().Add(time.Duration(i) * time.Second)
		if err := h.eng.Record(h.ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
