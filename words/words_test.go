package words_test

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
	"github.com/probed/probed/words/wordstest"
)

// en and ja ship, each complete, and every word of the status vocabulary
// (component statuses, incident and maintenance statuses, impacts) has its
// entry in every language: no surface falls back to a code.
func TestBuiltinCataloguesCoverTheVocabulary(t *testing.T) {
	c := words.Builtin()
	if got := strings.Join(c.Codes(), ","); got != "en,ja" {
		t.Fatalf("shipped languages %s, want en,ja", got)
	}
	for _, code := range c.Codes() {
		l := c.Lang(code)
		check := func(what, key, got string) {
			t.Helper()
			if got == key || strings.TrimSpace(got) == "" {
				t.Errorf("%s: %s has no text for %s", code, what, key)
			}
		}
		for _, s := range status.ComponentStatuses() {
			check("component status", "status."+s, l.Status(s))
		}
		for _, s := range append(append(status.IncidentStatuses(), status.MaintenanceStatuses()...), status.StatusUpdate) {
			check("timeline label", "label."+s, l.Label(s))
		}
		for _, s := range status.Impacts() {
			check("impact", "impact."+s, l.Impact(s))
		}
		for _, k := range []string{"format.datetime", "format.day", "format.month", "format.short", "mail.time", "draft.time", "mail.subject.date"} {
			at := time.Date(2021, 9, 2, 17, 23, 0, 0, time.UTC)
			if got := at.Format(l.T(k)); !strings.Contains(got, "2") || got == l.T(k) {
				t.Errorf("%s: %s %q is not a time layout (formats as %q)", code, k, l.T(k), got)
			}
		}
		if l.T("lang.name") == "" || l.T("lang.html") == "" || l.T("lang.tag") == "" {
			t.Errorf("%s: lang.name, lang.html and lang.tag are required", code)
		}
	}
	// The words the four old tables disagreed on are one word now.
	ja := c.Lang("ja")
	if ja.Status(status.PartialOutage) != "一部障害" || ja.Status(status.MajorOutage) != "重大な障害" {
		t.Errorf("ja: partial %q, major %q", ja.Status(status.PartialOutage), ja.Status(status.MajorOutage))
	}
	if got := c.Text("default.resolved"); got["en"] == "" || got["ja"] == "" || len(got) != 2 {
		t.Errorf("Text(default.resolved) = %v, want every language", got)
	}
}

// A catalogue with a key missing or one en does not have is refused, with the keys named.
func TestParseRefusesAnIncompleteCatalogue(t *testing.T) {
	en := `{"status.operational": "Operational", "banner.none": "All Systems Operational"}`
	for _, tc := range []struct{ fr, want string }{
		{`{"status.operational": "Opérationnel"}`, "catalogue fr.json: missing [banner.none], unknown []"},
		{`{"status.operational": "Opérationnel", "banner.none": "Tout va bien", "extra": "x"}`, "catalogue fr.json: missing [], unknown [extra]"},
		{`{"status.operational": `, "read catalogue fr.json: unexpected end of JSON input"},
	} {
		_, err := words.Parse(fstest.MapFS{"en.json": {Data: []byte(en)}, "fr.json": {Data: []byte(tc.fr)}})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(fr %s) = %v, want %q", tc.fr, err, tc.want)
		}
	}
	if _, err := words.Parse(fstest.MapFS{"ja.json": {Data: []byte(en)}}); err == nil || !strings.Contains(err.Error(), "no en.json") {
		t.Errorf("a catalogue set without en: %v", err)
	}
	c, err := words.Parse(fstest.MapFS{"en.json": {Data: []byte(en)}, "fr.json": {Data: []byte(`{"status.operational": "Opérationnel", "banner.none": "Tout va bien"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Has("fr") || c.Lang("fr").Status(status.Operational) != "Opérationnel" || c.T("de", "banner.none") != "All Systems Operational" {
		t.Errorf("a new language is one file: %v", c.Codes())
	}
}

// The pseudo-locale wraps every text, and Escapes finds what is not wrapped.
func TestPseudoLocale(t *testing.T) {
	c, err := wordstest.Pseudo()
	if err != nil {
		t.Fatal(err)
	}
	xx := c.Lang(wordstest.Code)
	if got := xx.Status(status.MajorOutage); got != "⟦Major Outage⟧" {
		t.Errorf("pseudo major outage = %q", got)
	}
	if got := wordstest.Escapes("⟦Posted ⟦Sep 2⟧⟧ OCSP down Fixed text 42", "OCSP down"); strings.Join(got, " ") != "Fixed text" {
		t.Errorf("Escapes = %q, want the two unwrapped words", got)
	}
}
