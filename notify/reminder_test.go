package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/incident"
	"github.com/probed/probed/status"
)

// TestMaintenanceReminderOncePerWindow: subscribers get one reminder mail
// at notify.maintenance_reminder before a window starts — not a second
// earlier, never twice (again, or after a second look), none for a window
// scheduled inside its lead time. The clock is the test's.
func TestMaintenanceReminderOncePerWindow(t *testing.T) {
	e := newEnv(t)
	e.add("ops@example.com", "timestamp")
	lead := e.cfg.Notify.MaintenanceReminder.D()
	if lead != time.Hour {
		t.Fatalf("default notify.maintenance_reminder = %s, want 1h", lead)
	}
	start := e.clk.Now().Add(3 * time.Hour)
	m, err := e.st.ScheduleMaintenance(e.ctx, "alice", status.NewMaintenance{Title: status.Text{"en": "TSA hardware swap", "ja": "TSA機器交換"},
		Components: []string{"timestamp"}, Start: start, End: start.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	e.drain()
	base := len(e.smtp.Messages()) // the scheduled mail
	remind := func(at time.Time) []int64 {
		t.Helper()
		e.clk.Set(at)
		ids, err := e.st.RemindMaintenances(e.ctx, at, lead)
		if err != nil {
			t.Fatal(err)
		}
		e.drain()
		return ids
	}
	if next, err := e.st.NextReminder(e.ctx, e.clk.Now(), lead); err != nil || !next.Equal(start.Add(-lead)) {
		t.Fatalf("next reminder = %s %v, want %s", next, err, start.Add(-lead))
	}
	if ids := remind(start.Add(-lead - time.Second)); len(ids) != 0 || len(e.smtp.Messages()) != base {
		t.Fatalf("a second before the lead time: reminded %v, %d mails", ids, len(e.smtp.Messages())-base)
	}
	if ids := remind(start.Add(-lead)); len(ids) != 1 || ids[0] != m.ID {
		t.Fatalf("at the lead time: reminded %v, want [%d]", ids, m.ID)
	}
	for _, at := range []time.Time{start.Add(-lead), start.Add(-time.Minute)} {
		if ids := remind(at); len(ids) != 0 {
			t.Fatalf("at %s: reminded %v again", at, ids)
		}
	}
	msgs := e.smtp.Messages()
	if len(msgs) != base+1 {
		t.Fatalf("%d reminder mails, want exactly 1", len(msgs)-base)
	}
	p := parse(t, msgs[len(msgs)-1].Raw)
	for _, want := range []string{"Reminder - This scheduled maintenance begins at Mar 2, 2026 - 13:30 JST.", "Scheduled for Mar 2, 2026 - 13:30 JST to Mar 2, 2026 - 15:30 JST",
		"リマインダー - この計画メンテナンスは2026年3月2日 13:30 JSTに開始します。", "TSA hardware swap"} {
		if !strings.Contains(p.text, want) {
			t.Errorf("reminder mail lacks %q:\n%s", want, p.text)
		}
	}
	if next, err := e.st.NextReminder(e.ctx, e.clk.Now(), lead); err != nil || !next.IsZero() {
		t.Errorf("next reminder after the only one = %s %v", next, err)
	}

	// Scheduled 30 minutes ahead, inside the lead time: its scheduled mail is
	// the only one.
	soon := e.clk.Now().Add(30 * time.Minute)
	if _, err := e.st.ScheduleMaintenance(e.ctx, "alice", status.NewMaintenance{Title: status.Text{"en": "Quick fix"},
		Components: []string{"timestamp"}, Start: soon, End: soon.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if ids := remind(soon.Add(-time.Minute)); len(ids) != 0 {
		t.Errorf("a window scheduled inside its lead time was reminded: %v", ids)
	}
	if ids, err := e.st.RemindMaintenances(e.ctx, e.clk.Now(), 0); err != nil || len(ids) != 0 {
		t.Errorf("lead 0 reminded %v %v", ids, err)
	}
}

// TestReminderAtConfiguredLeadThroughTheEngine: with
// notify.maintenance_reminder at 30m (not the default), the incident
// engine's tick queues each window's reminder exactly at its start − 30 min
// and the worker mails it once: two windows, one reminder mail each, none
// a second early, none on later ticks. The clock is the test's.
func TestReminderAtConfiguredLeadThroughTheEngine(t *testing.T) {
	e := newEnv(t, "  maintenance_reminder: 30m")
	if lead := e.cfg.Notify.MaintenanceReminder.D(); lead != 30*time.Minute {
		t.Fatalf("notify.maintenance_reminder = %s, want 30m", lead)
	}
	e.add("ops@example.com", "timestamp", "crl")
	eng, err := incident.New(e.ctx, incident.Options{Store: e.st, Config: func() *config.Config { return e.cfg }, Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	tsa := e.clk.Now().Add(3 * time.Hour)
	crl := e.clk.Now().Add(5 * time.Hour)
	for _, w := range []struct {
		title string
		comp  string
		start time.Time
	}{{"TSA hardware swap", "timestamp", tsa}, {"CRL signer swap", "crl", crl}} {
		if _, err := eng.ScheduleMaintenance(e.ctx, "alice", status.NewMaintenance{Title: status.Text{"en": w.title}, Components: []string{w.comp},
			Start: w.start, End: w.start.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	e.drain()
	reminders := func() []string {
		t.Helper()
		var subj []string
		for _, m := range e.smtp.Messages() {
			if p := parse(t, m.Raw); strings.Contains(p.text, "Reminder - This scheduled maintenance begins at") {
				subj = append(subj, p.subject)
			}
		}
		return subj
	}
	tickAt := func(at time.Time) []string {
		t.Helper()
		e.clk.Set(at)
		if err := eng.Tick(e.ctx); err != nil {
			t.Fatal(err)
		}
		e.drain()
		return reminders()
	}
	if got := tickAt(tsa.Add(-30*time.Minute - time.Second)); len(got) != 0 {
		t.Fatalf("a second before the TSA window's lead: %q", got)
	}
	if got := tickAt(tsa.Add(-30 * time.Minute)); len(got) != 1 || !strings.Contains(got[0], "TSA hardware swap") {
		t.Fatalf("at the TSA window's lead: %q, want one reminder of it", got)
	}
	for _, at := range []time.Time{tsa.Add(-29 * time.Minute), tsa.Add(-time.Second), crl.Add(-30*time.Minute - time.Second)} {
		if got := tickAt(at); len(got) != 1 {
			t.Fatalf("at %s: %d reminder mails, want still 1: %q", at, len(got), got)
		}
	}
	if got := tickAt(crl.Add(-30 * time.Minute)); len(got) != 2 || !strings.Contains(got[1], "CRL signer swap") {
		t.Fatalf("at the CRL window's lead: %q, want a second reminder, of it", got)
	}
	if got := tickAt(crl.Add(-time.Minute)); len(got) != 2 {
		t.Fatalf("after both leads: %d reminder mails, want 2: %q", len(got), got)
	}
}
