package notify

import (
	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/store"
)

func TestSubscribersGetOnlyTheirComponents(t *testing.T) {
	e := newEnv(t)
	e.add("ocsp-only@example.com", "ocsp")
	e.add("crl-only@example.com", "crl")
	e.add("everything@example.com") // operator default: every component
	e.add("certcentral@example.com", "certcentral")
	e.add("timestamp@example.com", "timestamp")

	e.publish("OCSP responses delayed", "ocsp")
	e.drain()
	got, seen := e.recipients(0)
	if want := map[string]int{"ocsp-only@example.com": 1, "everything@example.com": 1}; !maps.Equal(got, want) {
		t.Errorf("OCSP incident went to %v, want %v", got, want)
	}

	// An incident filed against the group reaches the subscribers of its children.
	e.publish("CertCentral unavailable", "certcentral")
	e.drain()
	got, seen = e.recipients(seen)
	if want := map[string]int{"certcentral@example.com": 1, "everything@example.com": 1}; !maps.Equal(got, want) {
		t.Errorf("CertCentral incident went to %v, want %v", got, want)
	}

	// Maintenance goes to the subscribers of its components, and of those only.
	start := e.clk.Now().Add(24 * time.Hour)
	m, err := e.st.ScheduleMaintenance(e.ctx, "alice", status.NewMaintenance{Title: status.Text{"en": "CRL and TSA maintenance"}, Components: []string{"crl", "timestamp"},
		Start: start, End: start.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	e.drain()
	got, seen = e.recipients(seen)
	want := map[string]int{"crl-only@example.com": 1, "timestamp@example.com": 1, "everything@example.com": 1}
	if !maps.Equal(got, want) {
		t.Errorf("maintenance scheduled went to %v, want %v", got, want)
	}
	// Started and completed, on time by themselves, reach the same people.
	e.clk.Set(start)
	if _, err := e.st.AdvanceMaintenances(e.ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(start.Add(2 * time.Hour))
	if _, err := e.st.AdvanceMaintenances(e.ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	e.drain()
	got, _ = e.recipients(seen)
	for k := range want {
		want[k] = 2
	}
	if !maps.Equal(got, want) {
		t.Errorf("maintenance started+completed went to %v, want %v", got, want)
	}
	var subjects []string
	for _, msg := range e.smtp.Messages() {
		if slices.Contains(msg.To, "crl-only@example.com") {
			pm, _ := msg.Parse()
			s, _ := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
			subjects = append(subjects, s)
		}
	}
	// The maintenance starts 3 March 01:30 UTC = 3 March 10:30 in Tokyo.
	wantSubj := "Example CA Maintenance - CRL and TSA maintenance - 3 March 2026"
	if len(subjects) != 3 || subjects[0] != wantSubj || subjects[2] != wantSubj {
		t.Errorf("crl subscriber's subjects = %q, want 3 × %q", subjects, wantSubj)
	}
	if n := testutil.ToFloat64(e.worker.sent); n != 13 {
		t.Errorf("sent_total = %v, want 13", n)
	}
	_ = m
}

// parsed is one delivered mail taken apart with net/mail and mime/multipart.
type parsed struct {
	header     mail.Header
	subject    string
	text, html string
	textCT     string
	htmlCT     string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("not a valid message: %v", err)
	}
	var p parsed
	p.header = msg.Header
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("subject %q: %v", msg.Header.Get("Subject"), err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q, %v: want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("bad multipart: %v", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		ct := part.Header.Get("Content-Type")
		pt, pp, _ := mime.ParseMediaType(ct)
		if !strings.EqualFold(pp["charset"], "utf-8") {
			t.Errorf("part %s: charset %q, want UTF-8", pt, pp["charset"])
		}
		switch pt {
		case "text/plain":
			p.text, p.textCT = string(body), ct
		case "text/html":
			p.html, p.htmlCT = string(body), ct
		default:
			t.Errorf("unexpected part %s", ct)
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("want both a text and an HTML part; got text %d bytes, html %d bytes", len(p.text), len(p.html))
	}
	return p
}

func TestMailFormatThreadingAndUnsubscribeHeaders(t *testing.T) {
	e := newEnv(t)
	sub := e.add("reader@example.com", "ocsp")
	inc := e.publish("OCSP 応答の遅延 / responses delayed", "ocsp")
	e.clk.Advance(20 * time.Minute)
	if _, err := e.st.PostUpdate(e.ctx, "alice", inc.ID, status.NewUpdate{Status: status.StatusIdentified, Body: status.Text{"en": "The cause is a signer HSM timeout.", "ja": "原因は署名用 HSM のタイムアウトです。"},
		Notify: true}); err != nil {
		t.Fatal(err)
	}
	// An update without notify sends nothing.
	if _, err := e.st.PostUpdate(e.ctx, "alice", inc.ID, status.NewUpdate{Status: status.StatusUpdate, Body: status.Text{"en": "Still working."}, Notify: false}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	if _, err := e.st.Resolve(e.ctx, "alice", inc.ID, nil); err != nil {
		t.Fatal(err)
	}
	e.drain()
	msgs := e.smtp.Messages()
	if len(msgs) != 3 {
		t.Fatalf("got %d mails, want 3 (published, identified, resolved)", len(msgs))
	}
	host := "status.example.test"
	root := "<incident-" + itoa(inc.ID) + "." + itoa(sub.ID) + "@" + host + ">"
	wantSubject := "Example CA Incident - OCSP 応答の遅延 / responses delayed - 2 March 2026"
	labels := []string{"Investigating", "Identified", "Resolved"}
	labelsJA := []string{"調査中", "原因特定", "解決済み"}
	ids := map[string]bool{}
	for i, m := range msgs {
		p := parse(t, m.Raw)
		h := p.header
		if p.subject != wantSubject {
			t.Errorf("mail %d subject = %q, want %q", i, p.subject, wantSubject)
		}
		if raw := h.Get("Subject"); !strings.Contains(raw, "=?UTF-8?") || strings.ContainsFunc(raw, func(r rune) bool { return r > 127 }) {
			t.Errorf("mail %d raw subject %q: want RFC 2047 encoded words, ASCII only", i, raw)
		}
		if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "noreply@example.test" || from.Name != "Example CA Status" {
			t.Errorf("mail %d From = %q", i, h.Get("From"))
		}
		if to := h.Get("To"); !strings.Contains(to, "reader@example.com") {
			t.Errorf("mail %d To = %q", i, to)
		}
		id := h.Get("Message-Id")
		if !strings.HasSuffix(id, "@"+host+">") || ids[id] {
			t.Errorf("mail %d Message-ID %q: want unique, on %s", i, id, host)
		}
		ids[id] = true
		if i == 0 {
			if id != root || h.Get("In-Reply-To") != "" {
				t.Errorf("first mail Message-ID %q In-Reply-To %q: want the thread root %s and no parent", id, h.Get("In-Reply-To"), root)
			}
		} else if h.Get("In-Reply-To") != root || h.Get("References") != root {
			t.Errorf("mail %d In-Reply-To %q References %q: want %s", i, h.Get("In-Reply-To"), h.Get("References"), root)
		}
		lu := h.Get("List-Unsubscribe")
		if !strings.HasPrefix(lu, "<http://status.example.test/unsubscribe?t=") || !strings.HasSuffix(lu, ">") {
			t.Errorf("mail %d List-Unsubscribe = %q", i, lu)
		}
		if got, err := e.subs.Resolve(e.ctx, PurposeUnsubscribe, tokenOf(t, strings.Trim(lu, "<>"))); err != nil || got.ID != sub.ID {
			t.Errorf("mail %d unsubscribe token does not name the subscriber: %v", i, err)
		}
		if h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Errorf("mail %d List-Unsubscribe-Post = %q", i, h.Get("List-Unsubscribe-Post"))
		}
		if h.Get("Auto-Submitted") != "auto-generated" || h.Get("Date") == "" || h.Get("Mime-Version") != "1.0" {
			t.Errorf("mail %d missing Auto-Submitted, Date or MIME-Version: %v", i, h)
		}
		en, ja := strings.Index(p.text, labels[i]+" - "), strings.Index(p.text, labelsJA[i]+" - ")
		if en < 0 || ja < 0 || en > ja {
			t.Errorf("mail %d text: want %q (English) before %q (Japanese):\n%s", i, labels[i], labelsJA[i], p.text)
		}
		for _, want := range []string{"Online Certificate Status Protocol (OCSP)", "http://status.example.test/incidents/" + itoa(inc.ID),
			"/subscriptions/manage?t=", "/unsubscribe?t=", "JST"} {
			if !strings.Contains(p.text, want) || !strings.Contains(p.html, strings.ReplaceAll(want, "(OCSP)", "(OCSP)")) {
				t.Errorf("mail %d: %q missing from the text or HTML part", i, want)
			}
		}
	}
	p0 := parse(t, msgs[0].Raw)
	if !strings.Contains(p0.text, words.Builtin().Lang("en").Status(status.MajorOutage)) || !strings.Contains(p0.text, words.Builtin().Lang("ja").Status(status.MajorOutage)) || !strings.Contains(p0.text, "Posted Mar 2, 2026 - 10:30 JST") {
		t.Errorf("first mail: want the component status in both languages and the time in Tokyo time:\n%s", p0.text)
	}
	if !strings.Contains(parse(t, msgs[1].Raw).text, "原因は署名用 HSM のタイムアウトです。") {
		t.Error("update mail lacks its Japanese body")
	}
}

func TestMaintenanceMailSaysItsWindow(t *testing.T) {
	e := newEnv(t)
	e.add("ops@example.com", "timestamp")
	start := time.Date(2026, 3, 12, 4, 0, 0, 0, time.UTC)
	m, err := e.st.ScheduleMaintenance(e.ctx, "alice", status.NewMaintenance{Title: status.Text{"en": "Maintenance Window", "ja": "定期メンテナンス"},
		Components: []string{"timestamp"}, Start: start, End: start.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	e.drain()
	msgs := e.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d mails, want 1", len(msgs))
	}
	p := parse(t, msgs[0].Raw)
	if p.subject != "Example CA Maintenance - Maintenance Window - 12 March 2026" {
		t.Errorf("subject = %q", p.subject)
	}
	for _, want := range []string{"Scheduled - ", "Scheduled for Mar 12, 2026 - 13:00 JST to Mar 12, 2026 - 15:00 JST", "定期メンテナンス", "予定 - ",
		"http://status.example.test/maintenance/" + itoa(m.ID), "- Code Signing Timestamp Service"} {
		if !strings.Contains(p.text, want) {
			t.Errorf("maintenance mail lacks %q:\n%s", want, p.text)
		}
	}
	// The window has not started: nothing is under maintenance yet.
	if um := words.Builtin().Lang("en").Status(status.UnderMaintenance); strings.Contains(p.text, um) {
		t.Errorf("the Scheduled mail says %q before the window starts:\n%s", um, p.text)
	}
	if id := p.header.Get("Message-Id"); id != "<maintenance-"+itoa(m.ID)+".1@status.example.test>" {
		t.Errorf("Message-ID = %q", id)
	}
}

func TestJapaneseSubjectsRoundTrip(t *testing.T) {
	e := newEnv(t)
	for _, title := range []string{"タイムスタンプサービスの障害", "OCSP レスポンダーの応答遅延（東京）", "Ünïcödé — “quoted” – 日本語 😀 very long title that goes past seventy-eight characters of a header line"} {
		inc := &status.Incident{ID: 1, Kind: status.KindIncident, Title: status.Text{"en": title}, CreatedAt: time.Date(2021, 9, 2, 16, 50, 0, 0, time.UTC),
			Updates: []status.Update{{ID: 1, Status: status.StatusInvestigating, Body: status.Text{"en": "b"}}}}
		c, err := NewComposer(e.cfg, e.links)
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.StoryOf(store.Event{ID: 1, Kind: store.EventIncidentPublished, UpdateID: 1}, inc)
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.EventMail(s, store.Subscriber{ID: 1, Address: "a@example.com", Salt: []byte("s")}, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if _, err := m.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		p := parse(t, []byte(b.String()))
		if want := "Example CA Incident - " + title + " - 3 September 2021"; p.subject != want {
			t.Errorf("subject round trip:\n got %q\nwant %q", p.subject, want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	_, tok, ok := strings.Cut(link, "?t=")
	if !ok {
		t.Fatalf("no token in %q", link)
	}
	return tok
}
