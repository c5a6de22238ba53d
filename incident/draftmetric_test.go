package incident

import (
	"testing"
	"time"

	"github.com/probed/probed/status"
)

// TestOldestDraftMetric: absent with no draft; the oldest waiting draft's
// creation time while drafts wait; absent again once approved.
func TestOldestDraftMetric(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2, successes_to_close: 2}\n")
	oldest := func() (float64, bool) {
		t.Helper()
		mfs, err := h.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "probed_oldest_draft_created_timestamp_seconds" {
				return mf.GetMetric()[0].GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	if v, ok := oldest(); ok {
		t.Fatalf("with no draft: %v", v)
	}
	h.fail("crl", 2)
	first := h.only(status.StateDraft)
	h.clk.Advance(10 * time.Minute)
	h.fail("api", 2) // joins the open draft: the time stays the first one's
	if v, ok := oldest(); !ok || v != float64(first.CreatedAt.UnixMilli())/1000 {
		t.Fatalf("oldest draft = %v %v, want %v", v, ok, float64(first.CreatedAt.UnixMilli())/1000)
	}
	if _, err := h.eng.Approve(h.ctx, "alice", first.ID, true); err != nil {
		t.Fatal(err)
	}
	if v, ok := oldest(); ok {
		t.Fatalf("after approval: %v", v)
	}
}
