package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/probed/probed/status"
)

// A database written by the schema that kept Japanese in columns (title_ja,
// body_ja, proposal_body_ja; testdata/texts-before-rows.sql was dumped from
// one the code of that time made, with en/ja incidents, updates, proposals
// and maintenances) opens, migrates, and every text reads back the same.
func TestTextsMigrateFromColumnsToRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "probed.db")
	dump, err := os.ReadFile("testdata/texts-before-rows.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(string(dump)); err != nil {
		t.Fatalf("load the old database: %v", err)
	}

	// What the old schema holds, read straight from its columns.
	type oldInc struct {
		kind, state, status, proposal string
		title, proposalBody           status.Text
	}
	want := map[int64]*oldInc{}
	rows, err := old.Query(`SELECT id, kind, state, status, proposal, title, title_ja, proposal_body, proposal_body_ja FROM incidents`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var o oldInc
		var en, ja, pen, pja string
		if err := rows.Scan(&id, &o.kind, &o.state, &o.status, &o.proposal, &en, &ja, &pen, &pja); err != nil {
			t.Fatal(err)
		}
		o.title, o.proposalBody = status.Text{"en": en, "ja": ja}, status.Text{"en": pen, "ja": pja}
		want[id] = &o
	}
	rows.Close()
	wantBody := map[int64]status.Text{}
	rows, err = old.Query(`SELECT id, body, body_ja FROM incident_updates`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var en, ja string
		if err := rows.Scan(&id, &en, &ja); err != nil {
			t.Fatal(err)
		}
		wantBody[id] = status.Text{"en": en, "ja": ja}
	}
	rows.Close()
	old.Close()
	if len(want) != 5 || len(wantBody) != 12 {
		t.Fatalf("fixture: %d incidents, %d updates; want 5 and 12", len(want), len(wantBody))
	}
	ja := 0
	for _, b := range wantBody {
		if b["ja"] != "" {
			ja++
		}
	}
	if ja < 8 || ja == len(wantBody) {
		t.Fatalf("fixture: %d of %d updates in Japanese; want most, not all", ja, len(wantBody))
	}

	s := openAt(t, path)
	got, err := s.ListIncidents(ctx, IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d incidents after the migration, want %d", len(got), len(want))
	}
	same := func(what string, got, want status.Text) {
		t.Helper()
		for _, lang := range []string{"en", "ja"} {
			if got[lang] != want[lang] {
				t.Errorf("%s in %s: %q, want %q", what, lang, got[lang], want[lang])
			}
		}
		for lang := range got {
			if lang != "en" && lang != "ja" {
				t.Errorf("%s: a text in %q appeared", what, lang)
			}
		}
	}
	updates := 0
	for _, inc := range got {
		w := want[inc.ID]
		if w == nil {
			t.Fatalf("incident %d was not in the old database", inc.ID)
		}
		if inc.Kind != w.kind || inc.State != w.state || inc.Status != w.status {
			t.Errorf("incident %d: %s %s %s, want %s %s %s", inc.ID, inc.Kind, inc.State, inc.Status, w.kind, w.state, w.status)
		}
		same("title of incident "+itoa(inc.ID), inc.Title, w.title)
		if (inc.Proposal != nil) != (w.proposal != "") {
			t.Errorf("incident %d: proposal %v, want %q", inc.ID, inc.Proposal, w.proposal)
		}
		if inc.Proposal != nil {
			same("proposal of incident "+itoa(inc.ID), inc.Proposal.Body, w.proposalBody)
		}
		for _, u := range inc.Updates {
			updates++
			same("update "+itoa(u.ID), u.Body, wantBody[u.ID])
		}
	}
	if updates != len(wantBody) {
		t.Errorf("%d updates read back, want %d", updates, len(wantBody))
	}
	// Proposal texts the old rows kept after the proposal was dropped are kept too.
	for id, w := range want {
		for lang, text := range w.proposalBody {
			var got string
			err := s.r.QueryRowContext(ctx, `SELECT text FROM incident_texts WHERE incident_id = ? AND field = 'proposal' AND lang = ?`, id, lang).Scan(&got)
			if text == "" && err != sql.ErrNoRows {
				t.Errorf("incident %d: an empty %s proposal became a row (%v)", id, lang, err)
			} else if text != "" && got != text {
				t.Errorf("incident %d: %s proposal %q, want %q (%v)", id, lang, got, text, err)
			}
		}
	}
	// The columns are gone, and a language added later is rows, not a schema change.
	if _, err := s.r.ExecContext(ctx, `SELECT title_ja FROM incidents`); err == nil {
		t.Error("incidents.title_ja survived the migration")
	}
	inc, err := s.CreateDraft(ctx, "alice", status.NewIncident{Title: status.Text{"en": "API errors", "fr": "Erreurs de l'API"},
		Body: status.Text{"ja": "調査中です。", "de": "Wir untersuchen."}, Components: []status.ComponentImpact{{ID: "api", Status: status.MajorOutage}}})
	if err != nil {
		t.Fatal(err)
	}
	if inc.Title["fr"] != "Erreurs de l'API" || inc.Updates[0].Body["de"] != "Wir untersuchen." || inc.Updates[0].Body.Has("en") {
		t.Errorf("new languages read back as %v / %v", inc.Title, inc.Updates[0].Body)
	}
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func itoa(n int64) string { return fmt.Sprint(n) }
