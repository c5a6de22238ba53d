package store

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/status"
)

// TestGenerateTextsFixture wrote testdata/texts-before-rows.sql (with
// H13_FIXTURE_DB=/tmp/x.db, then `sqlite3 /tmp/x.db .dump`): a database of the
// schema that kept Japanese texts in columns, with en/ja incidents, updates,
// proposals and maintenances. It is removed with that schema; the dump stays.
func TestGenerateTextsFixture(t *testing.T) {
	out := os.Getenv("H13_FIXTURE_DB")
	if out == "" {
		t.Skip("generator")
	}
	ctx := context.Background()
	fc := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	s, err := Open(ctx, Options{Path: out, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	step := func() { fc.Advance(7 * time.Minute) }
	// 1: an engine draft in en+ja, published, updates in both, a proposal, resolved with both.
	inc, err := s.CreateDraft(ctx, ActorEngine, status.NewIncident{Title: "OCSP responder: partial outage", TitleJA: "OCSP レスポンダー: 一部障害",
		Body: "Since 2026-11-02 09:00 UTC, OCSP \"good\" answers are stale.\nWe are investigating.", BodyJA: "2026年11月2日 09:00 (UTC) から、OCSP の応答が古くなっています。\n調査しています。",
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.PartialOutage}}, Origin: status.OriginProbe})
	if err != nil {
		t.Fatal(err)
	}
	step()
	if _, err := s.Approve(ctx, "alice", inc.ID); err != nil {
		t.Fatal(err)
	}
	step()
	if _, err := s.PostUpdate(ctx, "alice", inc.ID, status.NewUpdate{Status: status.StatusIdentified, Body: "The signer's HSM timed out.", BodyJA: "署名用 HSM がタイムアウトしました。", Notify: true}); err != nil {
		t.Fatal(err)
	}
	step()
	if _, err := s.PostUpdate(ctx, "alice", inc.ID, status.NewUpdate{Status: status.StatusUpdate, Body: "English only — no Japanese text <b>here</b> & 'quotes'."}); err != nil {
		t.Fatal(err)
	}
	step()
	if err := s.ProposeResolve(ctx, inc.ID, "OCSP recovered at 09:40 UTC.", "OCSP は 09:40 (UTC) に回復しました。"); err != nil {
		t.Fatal(err)
	}
	step()
	if _, err := s.Resolve(ctx, "alice", inc.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	// 2: an open incident with a proposal still pending, Japanese title only partly filled.
	step()
	inc2, err := s.CreateDraft(ctx, "bob", status.NewIncident{Title: "CRL publication delayed", TitleJA: "", Body: "Investigating 🚧.", BodyJA: "",
		Components: []status.ComponentImpact{{ID: "crl", Status: status.DegradedPerformance}}, Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	step()
	if err := s.ProposeResolve(ctx, inc2.ID, "CRL is current again.", "CRL は最新に戻りました。"); err != nil {
		t.Fatal(err)
	}
	// 3: a draft the operator edited, then rejected.
	step()
	inc3, err := s.CreateDraft(ctx, ActorEngine, status.NewIncident{Title: "TSA: major outage", TitleJA: "TSA: 重大な障害", Body: "TSA fails.", BodyJA: "TSA が応答しません。",
		Components: []status.ComponentImpact{{ID: "timestamp", Status: status.MajorOutage}}, Origin: status.OriginProbe})
	if err != nil {
		t.Fatal(err)
	}
	ja := "タイムスタンプ局の障害（編集済み）"
	if _, err := s.EditDraft(ctx, "alice", inc3.ID, status.DraftEdit{TitleJA: &ja}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reject(ctx, "alice", inc3.ID, "false alarm"); err != nil {
		t.Fatal(err)
	}
	// 4: a maintenance with Japanese texts, started and completed by the ticker; 5: one cancelled.
	step()
	m, err := s.ScheduleMaintenance(ctx, "alice", status.NewMaintenance{Title: "CRL publisher upgrade", TitleJA: "CRL 配布ポイントの更新作業",
		Components: []string{"crl", "ocsp"}, Start: fc.Now().Add(time.Hour), End: fc.Now().Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	fc.Advance(time.Hour)
	if _, err := s.AdvanceMaintenances(ctx, fc.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyMaintenance(ctx, "alice", m.ID, "Checking the new publisher.", "新しい配布を確認しています。"); err != nil {
		t.Fatal(err)
	}
	fc.Advance(time.Hour)
	if _, err := s.AdvanceMaintenances(ctx, fc.Now()); err != nil {
		t.Fatal(err)
	}
	m2, err := s.ScheduleMaintenance(ctx, "alice", status.NewMaintenance{Title: "HSM firmware", TitleJA: "HSM ファームウェア更新",
		Components: []string{"timestamp"}, Start: fc.Now().Add(24 * time.Hour), End: fc.Now().Add(25 * time.Hour), Body: "Firmware 7.2.", BodyJA: "ファームウェア 7.2 に更新します。"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelMaintenance(ctx, "alice", m2.ID, ""); err != nil {
		t.Fatal(err)
	}
}
