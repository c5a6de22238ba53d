package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes/run"
	"github.com/probed/probed/status"
)

// filled is what fillEveryTable made, to look up again after a copy.
type filled struct {
	token       string // an operator token's secret
	session     string // a console session's cookie
	incidents   []int64
	subscribers []int64
	templates   []int64
}

// fillEveryTable writes at least one row into every table of the schema
// through the store's API, as a daemon of today's main would: results
// (raw, packed, rolled up by the hour and the day, and an hour still
// dirty), probe state, a daemon run, incidents with texts in English and
// Japanese, updates, evidence, a proposal, a maintenance, a postmortem, an
// incident template, the public status
// log, the audit log, tokens, a session, engine state, an alert, events,
// subscribers by e-mail (in Japanese) and webhook (with its secret), their
// deliveries and the signing keys. TestCopyEveryTable fails when a table
// stays empty here: a table added later must get a row in this function.
func fillEveryTable(t *testing.T, s *Store, fc *clock.Fake) filled {
	t.Helper()
	ctx := context.Background()
	now := fc.Now()
	var f filled
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// History: a day ago and two hours ago (rolled up and packed by the
	// housekeeping below), then a minute ago (raw, not rolled up yet) and
	// a straggler into a rolled-up hour (which makes it dirty).
	record := func(at time.Time, ok bool) {
		t.Helper()
		for i, p := range []string{"ocsp-good", "crl-main", "tsa"} {
			r := run.Result{Probe: p, Kind: []string{"ocsp", "crl", "tsa"}[i], Component: []string{"ocsp", "crl", "timestamp"}[i], Location: "tokyo-1",
				Start: at.Add(time.Duration(i) * time.Second), Duration: time.Duration(100+i) * time.Millisecond, Success: ok}
			if !ok {
				r.Checks = []run.Check{{Name: "ocsp_next_update", Message: "nextUpdate passed 2h ago — 次回更新の期限切れ", Evidence: map[string]string{"next_update": "2026-03-01T08:00:00Z"}}}
			}
			must(s.Record(ctx, r))
		}
	}
	for m := range 6 {
		record(now.Add(-26*time.Hour+time.Duration(m)*10*time.Minute), m != 3)
		record(now.Add(-2*time.Hour+time.Duration(m)*10*time.Minute), m != 4)
	}
	must(s.Flush(ctx))
	mustHousekeep(t, s)
	record(now.Add(-time.Minute), false)
	record(now.Add(-2*time.Hour+5*time.Minute), true) // late: its hour, rolled up already, is dirty again
	must(s.Flush(ctx))
	must(s.PutState(ctx, "crl-main", "crl_number", []byte{0x01, 0x00, 0xff, 0x7f}))
	mustFlush(t, s)

	// A daemon run, stopped cleanly.
	hctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Heartbeat(hctx, "tokyo-2", time.Hour) }()
	waitFor(t, "the heartbeat's run", func() bool {
		var n int
		s.r.QueryRow(`SELECT count(*) FROM daemon_runs`).Scan(&n)
		return n == 1
	})
	stop()
	must(<-done)

	// Incidents.
	must(s.EnsureComponents(ctx, []string{"ocsp", "crl", "timestamp"}))
	since := now.Add(-10 * time.Minute)
	d, err := s.CreateDraft(ctx, ActorEngine, status.NewIncident{Title: status.Text{"en": "OCSP responses stale", "ja": "OCSP 応答が古い"},
		Body: status.Text{"en": "We are investigating.", "ja": "調査中です。"}, Origin: status.OriginProbe,
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage, Since: &since}},
		Evidence: []status.Evidence{{Component: "ocsp", Probe: "ocsp-good", Location: "tokyo-1", Check: "ocsp_next_update", Message: "stale",
			Since: since, Values: map[string]string{"next_update": "2026-03-01T08:00:00Z"}}}})
	must(err)
	must(s.AddEvidence(ctx, d.ID, []status.Evidence{{Component: "ocsp", Probe: "ocsp-good", Location: "osaka-1", Check: "ocsp_signature", Message: "bad signature",
		Since: since, Values: map[string]string{"alg": "sha1"}}}))
	fc.Advance(time.Minute)
	_, err = s.Approve(ctx, "alice", d.ID, true)
	must(err)
	fc.Advance(time.Minute)
	_, err = s.PostUpdate(ctx, "bob", d.ID, status.NewUpdate{Status: status.StatusIdentified, Body: status.Text{"en": "The signer was stuck.", "ja": "署名器が停止していました。"},
		Notify: true, Components: []status.ComponentImpact{{ID: "ocsp", Status: status.PartialOutage}}})
	must(err)
	must(s.ProposeResolve(ctx, d.ID, status.Text{"en": "Every probe has passed for 10 minutes.", "ja": "10 分間すべて成功しています。"}))
	f.incidents = append(f.incidents, d.ID)
	r, err := s.CreateDraft(ctx, "carol", status.NewIncident{Title: status.Text{"en": "CRL late"}, Body: status.Text{"en": "Looking."}, Origin: status.OriginManual,
		Components: []status.ComponentImpact{{ID: "crl", Status: status.DegradedPerformance}}})
	must(err)
	_, err = s.Reject(ctx, "carol", r.ID, "a test")
	must(err)
	f.incidents = append(f.incidents, r.ID)
	m, err := s.ScheduleMaintenance(ctx, "dave", status.NewMaintenance{Title: status.Text{"en": "TSA HSM swap", "ja": "TSA の HSM 交換"}, Components: []string{"timestamp"},
		Start: now.Add(24 * time.Hour), End: now.Add(26 * time.Hour)})
	must(err)
	f.incidents = append(f.incidents, m.ID)
	must(s.Audit(ctx, "alice", "login", "from 127.0.0.1"))
	// The drafts above wrote operator events; one webhook wants each kind.
	oncall := []string{"oncall"}
	n, err := s.FanOutOperator(ctx, map[string][]string{OperatorDraftCreated: oncall, OperatorDraftApproved: oncall, OperatorDraftRejected: oncall, OperatorResolveProposed: oncall})
	must(err)
	if n == 0 {
		t.Fatal("no operator delivery was written")
	}
	// A resolved incident with its postmortem published, and a template.
	pm, err := s.CreateDraft(ctx, "alice", status.NewIncident{Title: status.Text{"en": "TSA slow", "ja": "TSA の遅延"}, Body: status.Text{"en": "Slow."}, Origin: status.OriginManual,
		Publish: true, Components: []status.ComponentImpact{{ID: "timestamp", Status: status.DegradedPerformance}}})
	must(err)
	_, err = s.Resolve(ctx, "alice", pm.ID, status.Text{"en": "Fixed.", "ja": "解決しました。"})
	must(err)
	_, err = s.SavePostmortem(ctx, "alice", pm.ID, status.Text{"en": "The HSM was saturated.", "ja": "HSM が飽和していました。"})
	must(err)
	_, err = s.PublishPostmortem(ctx, "alice", pm.ID, false)
	must(err)
	f.incidents = append(f.incidents, pm.ID)
	tpl, err := s.CreateTemplate(ctx, "alice", status.Template{Name: "ocsp-down", Title: status.Text{"en": "OCSP unavailable", "ja": "OCSP が利用できません"},
		Body: status.Text{"en": "We are investigating.", "ja": "調査中です。"}, Status: status.StatusInvestigating,
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}})
	must(err)
	f.templates = append(f.templates, tpl.ID)

	// Operators and the engine.
	f.token, err = s.CreateToken(ctx, "alice")
	must(err)
	f.session, _, err = s.CreateSession(ctx, "alice", time.Hour)
	must(err)
	must(s.SaveProbeHealth(ctx, ProbeHealth{Probe: "ocsp-good", Location: "tokyo-1", Component: "ocsp", Down: true, Fails: 3, Since: since, Last: now,
		Checks: []run.Check{{Name: "ocsp_next_update", Message: "stale"}}}))
	must(s.SaveComponentHealth(ctx, ComponentHealth{Component: "ocsp", Status: status.MajorOutage, Since: since}))
	_, err = s.RecordAlert(ctx, Alert{Fingerprint: "f00d", StartsAt: since, Component: "crl", Alertname: "CRLStale", Status: "firing", CompStatus: status.PartialOutage,
		Labels: map[string]string{"severity": "page"}, Annotations: map[string]string{"summary": "CRL is stale"}, ReceivedAt: now})
	must(err)

	// Subscribers, their deliveries and the keys of their links.
	hook, err := s.AddSubscriber(ctx, SubscriberWebhook, "https://hooks.example.com/probed", []string{"ocsp"}, "whsec-0123456789")
	must(err)
	req, err := s.RequestSubscription(ctx, "hanako@example.jp", "ja", []string{"ocsp", "crl"}, time.Hour)
	must(err)
	_, err = s.ConfirmSubscription(ctx, req.Subscriber.ID)
	must(err)
	pend, err := s.RequestSubscription(ctx, "pending@example.com", "en", []string{"timestamp"}, time.Hour)
	must(err)
	f.subscribers = append(f.subscribers, hook.ID, req.Subscriber.ID, pend.Subscriber.ID)
	evs, err := s.PendingEvents(ctx, 10)
	must(err)
	if len(evs) == 0 {
		t.Fatal("no event to fan out")
	}
	_, err = s.FanOut(ctx, evs[0].ID, evs[0].Components)
	must(err)
	for _, k := range []string{"subscriber-links", "subscribe-challenge"} {
		_, err := s.SigningKey(ctx, k)
		must(err)
	}
	return f
}

// TestCopyEveryTable copies a store written through the API on SQLite to a
// real PostgreSQL and finds every row of every table there, the same; what
// the store reads back (incidents in every language, subscribers with their
// salts and secrets, keys, tokens) equal; new rows numbered after the
// copied ones; and a second copy into the now non-empty target refused.
func TestCopyEveryTable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "probed.db")
	fc := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	s, err := Open(ctx, Options{Path: path, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	f := fillEveryTable(t, s, fc)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	dsn := pg.DSN(t)
	rep, err := Copy(ctx, CopyOptions{From: path, To: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Migrated) != 0 || rep.Schema == "" {
		t.Fatalf("report: migrated %v, schema %q; want nothing migrated (today's schema) and the schema named", rep.Migrated, rep.Schema)
	}
	if strings.Contains(rep.To, "password") || !strings.Contains(rep.To, "127.0.0.1") {
		t.Fatalf("report names the target %q", rep.To)
	}

	// Every table of the schema is copied or named in NotCopied, and none
	// is empty in the source: a table added later needs a row in
	// fillEveryTable (and then is compared below).
	src := openRaw(t, path)
	tables, err := sqliteTables(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	copied := map[string]int64{}
	for _, tr := range rep.Tables {
		copied[tr.Table] = tr.Rows
	}
	for _, name := range sortedKeys(tables) {
		n, ok := copied[name]
		switch {
		case NotCopied[name] != "":
			if ok {
				t.Errorf("table %s is both copied and in NotCopied", name)
			}
		case !ok:
			t.Errorf("table %s is neither copied nor in NotCopied", name)
		case n == 0:
			t.Errorf("table %s is empty in the test's source: give it a row in fillEveryTable so that its copy is tested", name)
		}
	}
	for name := range NotCopied {
		if tables[name] == nil {
			t.Errorf("NotCopied names %s, which is not a table", name)
		}
	}
	if len(rep.Tables) < 25 {
		t.Fatalf("copied %d tables: %v", len(rep.Tables), rep.Tables)
	}
	// Parents before children.
	pos := map[string]int{}
	for i, tr := range rep.Tables {
		pos[tr.Table] = i
	}
	for name, tb := range tables {
		for _, p := range tb.parents {
			if p != name && pos[p] > pos[name] {
				t.Errorf("table %s is copied before %s, which its foreign key references", name, p)
			}
		}
	}

	// Every row, value for value.
	dst, err := openPostgres(dsn, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	for _, tr := range rep.Tables {
		want, got := tableRows(t, src, tables[tr.Table].cols, tr.Table), tableRows(t, dst, tables[tr.Table].cols, tr.Table)
		if int64(len(want)) != tr.Rows || !slices.Equal(want, got) {
			t.Errorf("table %s: %d rows reported; source %d rows, target %d:\nsource %q\ntarget %q", tr.Table, tr.Rows, len(want), len(got), want, got)
		}
	}

	// What the store reads back is the same on both.
	a, err := Open(ctx, Options{Path: path, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, Options{Driver: "postgres", DSN: dsn, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, id := range f.incidents {
		ia, err := a.GetIncident(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ib, err := b.GetIncident(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ia, ib) {
			t.Errorf("incident %d differs:\nsqlite   %+v\npostgres %+v", id, ia, ib)
		}
	}
	for _, id := range f.templates {
		ta, err := a.GetTemplate(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := b.GetTemplate(ctx, id)
		if err != nil || !reflect.DeepEqual(ta, tb) || tb.Title["ja"] == "" {
			t.Errorf("template %d differs:\nsqlite   %+v\npostgres %+v (%v)", id, ta, tb, err)
		}
	}
	if pm, _ := b.GetIncident(ctx, f.incidents[3]); pm == nil || !pm.Postmortem.Published() || pm.Postmortem.Body["ja"] != "HSM が飽和していました。" {
		t.Errorf("the published postmortem on postgres: %+v", pm)
	}
	inc, _ := b.GetIncident(ctx, f.incidents[0])
	if inc.Title["ja"] != "OCSP 応答が古い" || inc.Updates[0].Body["ja"] != "署名器が停止していました。" || inc.Proposal == nil || inc.Proposal.Body["ja"] != "10 分間すべて成功しています。" {
		t.Errorf("Japanese texts on postgres: title %q, update %q, proposal %+v", inc.Title["ja"], inc.Updates[0].Body["ja"], inc.Proposal)
	}
	for _, id := range f.subscribers {
		sa, err := a.Subscriber(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := b.Subscriber(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sa, sb) || len(sb.Salt) == 0 {
			t.Errorf("subscriber %d differs:\nsqlite   %+v\npostgres %+v", id, sa, sb)
		}
	}
	if sb, _ := b.Subscriber(ctx, f.subscribers[0]); sb.Secret != "whsec-0123456789" {
		t.Errorf("webhook secret on postgres = %q", sb.Secret)
	}
	if sb, _ := b.Subscriber(ctx, f.subscribers[1]); sb.Language != "ja" {
		t.Errorf("subscriber language on postgres = %q", sb.Language)
	}
	for _, k := range []string{"subscriber-links", "subscribe-challenge"} {
		ka, _ := a.SigningKey(ctx, k)
		kb, err := b.SigningKey(ctx, k)
		if err != nil || len(ka) != 32 || !slices.Equal(ka, kb) {
			t.Errorf("signing key %s: sqlite %x, postgres %x (%v)", k, ka, kb, err)
		}
	}
	if name, err := b.Authenticate(ctx, f.token); err != nil || name != "alice" {
		t.Errorf("the token on postgres: %q, %v", name, err)
	}
	if sess, err := b.GetSession(ctx, f.session); err != nil || sess.TokenName != "alice" {
		t.Errorf("the session on postgres: %+v, %v", sess, err)
	}
	la, _ := a.ComponentStatusLog(ctx, "ocsp", fc.Now().Add(-time.Hour), fc.Now())
	lb, _ := b.ComponentStatusLog(ctx, "ocsp", fc.Now().Add(-time.Hour), fc.Now())
	if len(la) < 2 || !reflect.DeepEqual(la, lb) {
		t.Errorf("status log: sqlite %+v, postgres %+v", la, lb)
	}
	from := fc.Now().Add(-48 * time.Hour)
	ua, _ := a.ProbeUptime(ctx, "ocsp-good", from, fc.Now(), time.Hour)
	ub, err := b.ProbeUptime(ctx, "ocsp-good", from, fc.Now(), time.Hour)
	if err != nil || len(ua) == 0 || !reflect.DeepEqual(ua, ub) {
		t.Errorf("uptime: sqlite %+v, postgres %+v (%v)", ua, ub, err)
	}
	ra, _ := a.Results(ctx, "ocsp-good", from, fc.Now())
	rb, _ := b.Results(ctx, "ocsp-good", from, fc.Now())
	if len(ra) != 14 || !reflect.DeepEqual(ra, rb) {
		t.Errorf("results: sqlite %d, postgres %d", len(ra), len(rb))
	}

	// New rows continue after the copied ids.
	n, err := b.CreateDraft(ctx, "alice", status.NewIncident{Title: status.Text{"en": "after the move"}, Body: status.Text{"en": "x"}, Origin: status.OriginManual,
		Components: []status.ComponentImpact{{ID: "crl", Status: status.MajorOutage}}})
	if err != nil {
		t.Fatal(err)
	}
	if top := slices.Max(f.incidents); n.ID != top+1 {
		t.Errorf("new incident on postgres has id %d, want %d", n.ID, top+1)
	}
	if _, err := b.CreateToken(ctx, "bob"); err != nil {
		t.Errorf("a new token after the copy: %v", err)
	}
	b.Close()

	// A second copy into the now non-empty target is refused, and writes nothing.
	var before int64
	dst.QueryRow(`SELECT count(*) FROM incidents`).Scan(&before)
	_, err = Copy(ctx, CopyOptions{From: path, To: dsn})
	want := fmt.Sprintf("store migrate %s to %s: the target database is not empty: table alerts has 1 row; migrate copies into an empty database only", path, rep.To)
	if !errors.Is(err, ErrTargetNotEmpty) || err.Error() != want {
		t.Fatalf("second copy: %v\nwant %s", err, want)
	}
	var after int64
	dst.QueryRow(`SELECT count(*) FROM incidents`).Scan(&after)
	if after != before {
		t.Fatalf("the refused copy changed incidents: %d rows, then %d", before, after)
	}
}

// A store written by an older schema (the one with Japanese in columns) is
// migrated to today's schema first, says so, and copies every row.
func TestCopyMigratesAnOlderSource(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "probed.db")
	dump, err := os.ReadFile("testdata/texts-before-rows.sql")
	if err != nil {
		t.Fatal(err)
	}
	old := openRaw(t, path)
	if _, err := old.Exec(string(dump)); err != nil {
		t.Fatal(err)
	}
	old.Close()
	dsn := pg.DSN(t)
	rep, err := Copy(ctx, CopyOptions{From: path, To: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rep.Migrated, "0050_texts_per_language.sql") {
		t.Fatalf("migrations applied to the source: %v, want 0050_texts_per_language.sql among them", rep.Migrated)
	}
	rows := map[string]int64{}
	for _, tr := range rep.Tables {
		rows[tr.Table] = tr.Rows
	}
	// The dump's rows, the texts moved out of their columns by 0050.
	for table, n := range map[string]int64{"incidents": 5, "incident_updates": 12, "audit_log": 18, "events": 9, "component_status_log": 7, "incident_components": 6} {
		if rows[table] != n {
			t.Errorf("table %s: %d rows copied, want %d", table, rows[table], n)
		}
	}
	if rows["incident_texts"] < 10 || rows["update_texts"] < 20 {
		t.Errorf("texts copied: %d incident_texts, %d update_texts", rows["incident_texts"], rows["update_texts"])
	}
	a, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, Options{Driver: "postgres", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	la, _ := a.ListIncidents(ctx, IncidentFilter{})
	lb, _ := b.ListIncidents(ctx, IncidentFilter{})
	if len(la) != 5 || !reflect.DeepEqual(la, lb) {
		t.Fatalf("incidents: sqlite %d, postgres %d, or they differ", len(la), len(lb))
	}
	ja := 0
	for _, inc := range lb {
		for _, u := range inc.Updates {
			if u.Body["ja"] != "" {
				ja++
			}
		}
	}
	if ja < 8 {
		t.Fatalf("%d updates in Japanese on postgres, want at least 8", ja)
	}
}

// Copy refuses a source a daemon still runs on, a missing source (rather
// than make an empty one) and a target of a newer schema, and names the
// target without its password.
func TestCopyRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.db")
	_, err := Copy(ctx, CopyOptions{From: missing, To: "postgres://probed:hunter2@127.0.0.1:1/probed"})
	if err == nil || err.Error() != "store migrate: source: stat "+missing+": no such file or directory" {
		t.Fatalf("missing source: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing source was created: %v", err)
	}

	path := filepath.Join(dir, "probed.db")
	fc := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	s, err := Open(ctx, Options{Path: path, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	// A run with no clean stop, its heartbeat 20 s before the copy.
	if _, err := s.startRun(ctx, ""); err != nil {
		t.Fatal(err)
	}
	s.Close()
	fc.Advance(20 * time.Second)
	_, err = Copy(ctx, CopyOptions{From: path, To: "postgres://probed:hunter2@127.0.0.1:1/probed", Clock: fc})
	want := "store migrate: source " + path + ": a probed is still running on it (last heartbeat 20s ago, no clean stop): stop it first, or wait 25s if it crashed"
	if err == nil || err.Error() != want {
		t.Fatalf("running source: %v\nwant %s", err, want)
	}
	// Once its heartbeat is old, the run counts as crashed: the copy goes
	// on, and fails on the unreachable target without naming its password.
	fc.Advance(time.Minute)
	_, err = Copy(ctx, CopyOptions{From: path, To: "postgres://probed:hunter2@127.0.0.1:1/probed", Clock: fc})
	if err == nil || !strings.HasPrefix(err.Error(), "store migrate: target: open store postgres database probed on 127.0.0.1:1: ") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("unreachable target: %v", err)
	}

	// A target a newer probed has migrated (a migration this one does not
	// know) is refused before anything is copied.
	dsn := pg.DSN(t)
	newer, err := Open(ctx, Options{Driver: "postgres", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newer.w.Exec(`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	where := newer.where
	newer.Close()
	_, err = Copy(ctx, CopyOptions{From: path, To: dsn})
	want = "store migrate: target: migrate " + where + ": the database has migration 9999_future.sql, unknown to this probed (written by a newer version?)"
	if err == nil || err.Error() != want {
		t.Fatalf("newer target: %v\nwant %s", err, want)
	}
	var n int
	if err := openRawPG(t, dsn).QueryRow(`SELECT count(*) FROM incidents`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the refused target has %d incidents (%v)", n, err)
	}
}

func openRawPG(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := openPostgres(dsn, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openRaw opens a SQLite file without the store.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+escapePath(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tableRows reads every row of a table, each written out as one string,
// sorted (the databases order text differently).
func tableRows(t *testing.T, db *sql.DB, cols []string, table string) []string {
	t.Helper()
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteIdent(c)
	}
	rows, err := db.Query(`SELECT ` + strings.Join(q, ", ") + ` FROM ` + quoteIdent(table))
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	var out []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if i > 0 {
				b.WriteString(" | ")
			}
			switch x := v.(type) {
			case nil:
				b.WriteString("NULL")
			case []byte:
				fmt.Fprintf(&b, "%q", x)
			default:
				fmt.Fprintf(&b, "%q", fmt.Sprint(x))
			}
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
