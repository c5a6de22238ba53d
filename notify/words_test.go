package notify

import (
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
	"github.com/probed/probed/words"
	"github.com/probed/probed/words/wordstest"
)

var tags = regexp.MustCompile(`<[^>]*>`)

// Every component status and every incident and maintenance status, in
// every language (en, ja and a pseudo-locale), reads in mail as the
// catalogue says; in the pseudo-locale no fixed text escapes the catalogue.
func TestMailWordsComeFromTheCatalogue(t *testing.T) {
	e := newEnv(t)
	pseudo, err := wordstest.Pseudo()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)
	leaves := []string{"certcentral-api", "acme", "timestamp", "ocsp", "crl"}
	var comps []status.ComponentImpact
	for i, s := range status.ComponentStatuses() {
		comps = append(comps, status.ComponentImpact{ID: leaves[i], Status: s})
	}
	data := []string{e.cfg.Page.Name, "http://status.example.test/incidents/7", "http://status.example.test/maintenance/7", phManage, phUnsub,
		"OCSP title", "OCSP body", "ops@example.com", "http://status.example.test/subscriptions/confirm?t="}
	for _, c := range e.cfg.Leaves() {
		data = append(data, c.Name)
	}
	for _, tc := range []struct {
		cat  *words.Catalogue
		lang string
	}{{words.Builtin(), "en"}, {words.Builtin(), "ja"}, {pseudo, wordstest.Code}} {
		cfg := *e.cfg
		cfg.Page.Languages = []string{tc.lang}
		c, err := NewComposerWords(&cfg, e.links, tc.cat)
		if err != nil {
			t.Fatal(err)
		}
		w := tc.cat.Lang(tc.lang)
		for _, kind := range []string{status.KindIncident, status.KindMaintenance} {
			statuses := append(status.IncidentStatuses(), status.StatusUpdate)
			if kind == status.KindMaintenance {
				statuses = status.MaintenanceStatuses()
			}
			for _, st := range statuses {
				inc := &status.Incident{ID: 7, Kind: kind, State: status.StatePublished, Status: st, Title: status.Text{"en": "OCSP title"}, Components: comps,
					CreatedAt: at, ScheduledFor: &at, ScheduledUntil: &at,
					Updates: []status.Update{{ID: 70, Status: st, Body: status.Text{"en": "OCSP body"}, CreatedAt: at, DisplayAt: at}}}
				s, err := c.StoryOf(store.Event{ID: 1, Kind: store.EventIncidentUpdated, IncidentID: 7, UpdateID: 70}, inc)
				if err != nil {
					t.Fatal(err)
				}
				htmlText := html.UnescapeString(tags.ReplaceAllString(s.html, " "))
				want := []string{w.Label(st), w.T("mail.kind." + kind)}
				// A window gives its components a status only while it runs:
				// the Scheduled mail never says "under maintenance".
				shows := kind != status.KindMaintenance || status.MaintenanceRunning(st)
				for _, cs := range status.ComponentStatuses() {
					if shows {
						want = append(want, w.Status(cs))
					} else if strings.Contains(s.text, "("+w.Status(cs)+")") {
						t.Errorf("%s %s %s: the mail gives a component %q", tc.lang, kind, st, w.Status(cs))
					}
				}
				for _, part := range []string{s.text, htmlText} {
					for _, word := range want {
						if !strings.Contains(part, word) {
							t.Errorf("%s %s %s: %q missing from the mail:\n%s", tc.lang, kind, st, word, part)
						}
					}
					if tc.lang == wordstest.Code {
						if esc := wordstest.Escapes(part, append(slices.Clone(data), "-", ":")...); len(esc) > 0 {
							t.Errorf("%s %s: fixed text outside the catalogue: %q\n%s", kind, st, esc, part)
						}
					}
				}
				if tc.lang == wordstest.Code {
					if esc := wordstest.Escapes(s.Subject, data...); len(esc) > 0 {
						t.Errorf("subject %q: fixed text outside the catalogue: %q", s.Subject, esc)
					}
				}
			}
		}
		// The confirmation mail too.
		sub := store.Subscriber{ID: 3, Address: "ops@example.com", CreatedAt: at, PendingComponents: []string{"ocsp"}}
		m, err := c.ConfirmMail(sub, at)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if _, err := m.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		p := parse(t, []byte(b.String()))
		for _, part := range []string{p.text, html.UnescapeString(tags.ReplaceAllString(p.html, " "))} {
			if !strings.Contains(part, w.T("mail.confirm.button")) && !strings.Contains(part, w.T("mail.confirm.open")) {
				t.Errorf("%s confirmation lacks its words:\n%s", tc.lang, part)
			}
			if tc.lang == wordstest.Code {
				link := ConfirmURL(&cfg, e.links, sub)
				if esc := wordstest.Escapes(part, append(slices.Clone(data), link, html.EscapeString(link))...); len(esc) > 0 {
					t.Errorf("confirmation: fixed text outside the catalogue: %q\n%s", esc, part)
				}
			}
		}
		if tc.lang == wordstest.Code {
			if esc := wordstest.Escapes(p.subject, data...); len(esc) > 0 {
				t.Errorf("confirmation subject %q: fixed text outside the catalogue: %q", p.subject, esc)
			}
		}
	}
}
