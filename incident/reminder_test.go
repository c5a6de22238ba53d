package incident

import (
	"testing"
	"time"

	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// TestTickRemindsMaintenanceOnce: the engine's tick queues the reminder of
// a window at notify.maintenance_reminder before its start, once, also
// across a restart.
func TestTickRemindsMaintenanceOnce(t *testing.T) {
	h := newHarness(t, "notify: {from: status@example.com, maintenance_reminder: 30m}\n")
	start := h.clk.Now().Add(2 * time.Hour)
	if _, err := h.eng.ScheduleMaintenance(h.ctx, "dave", status.NewMaintenance{Title: status.Text{"en": "CRL signer swap"}, Components: []string{"crl"},
		Start: start, End: start.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	reminders := func() int {
		t.Helper()
		n := 0
		for _, ev := range h.events() {
			if ev.Kind == store.EventMaintenanceReminder {
				n++
			}
		}
		return n
	}
	h.clk.Set(start.Add(-31 * time.Minute))
	if err := h.eng.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	if n := reminders(); n != 0 {
		t.Fatalf("%d reminders 31 minutes before", n)
	}
	h.clk.Set(start.Add(-30 * time.Minute))
	if err := h.eng.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.restart()
	h.clk.Advance(time.Minute)
	if err := h.eng.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	if n := reminders(); n != 1 {
		t.Fatalf("%d reminders, want exactly 1", n)
	}
}

// TestDefaultMaintenanceTextStatesTheWindow: a window scheduled without a
// message says when it runs, in the page's time zone, in every language;
// the Japanese word is planned (計画) maintenance.
func TestDefaultMaintenanceTextStatesTheWindow(t *testing.T) {
	h := newHarness(t, "")
	h.cfg.Page.Languages = []string{"en", "ja"}
	start := time.Date(2026, 3, 12, 4, 0, 0, 0, time.UTC)
	m, err := h.eng.ScheduleMaintenance(h.ctx, "dave", status.NewMaintenance{Title: status.Text{"en": "CRL signer swap"}, Components: []string{"crl"},
		Start: start, End: start.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	body := m.Updates[len(m.Updates)-1].Body
	if body["en"] != "Scheduled maintenance from Mar 12, 2026 - 13:00 JST to Mar 12, 2026 - 15:00 JST." ||
		body["ja"] != "2026年3月12日 13:00 JST～2026年3月12日 15:00 JSTに計画メンテナンスを実施します。" {
		t.Errorf("default text = %q", body)
	}
}
