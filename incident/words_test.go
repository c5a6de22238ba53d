package incident

import (
	"strings"
	"testing"

	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
	"github.com/probed/probed/words/wordstest"
)

// A draft's proposed title and first update say what failed in the
// catalogue's words (finding.*), in every language, without the status
// word (the page shows it); in the pseudo-locale nothing but component
// names escapes the catalogue.
func TestDraftWordsComeFromTheCatalogue(t *testing.T) {
	h := newHarness(t, "")
	pseudo, err := wordstest.Pseudo()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"Online Certificate Status Protocol (OCSP)", "Certificate Revocation List (CRL)"}
	for _, tc := range []struct {
		cat  *words.Catalogue
		lang string
	}{{words.Builtin(), "en"}, {words.Builtin(), "ja"}, {pseudo, wordstest.Code}} {
		cfg := *h.cfg
		cfg.Page.Languages = []string{tc.lang}
		e := &Engine{words: tc.cat, clock: h.clk}
		w := tc.cat.Lang(tc.lang)
		for _, s := range status.IncidentComponentStatuses() {
			since := h.clk.Now()
			comps := []status.ComponentImpact{{ID: "ocsp", Status: s, Since: &since}, {ID: "crl", Status: status.Operational}}
			out, err := e.render(&cfg, []string{"draft.title", "draft.body", "draft.resolve"}, comps, since)
			if err != nil {
				t.Fatal(err)
			}
			title, body, resolve := out[0][tc.lang], out[1][tc.lang], out[2][tc.lang]
			if len(out[0]) != 1 || title == "" || body == "" || resolve == "" {
				t.Fatalf("%s %s: texts %v", tc.lang, s, out)
			}
			inner := title // the pseudo-locale wraps draft.title around the finding's title
			if tc.lang == wordstest.Code {
				inner = strings.TrimSuffix(strings.TrimPrefix(title, "⟦"), "⟧")
			}
			if s != status.Operational && (strings.Contains(title, w.Status(s)) || !strings.Contains(body, inner)) {
				t.Errorf("%s %s: title %q, body %q: want the finding's title in both, no status word", tc.lang, s, title, body)
			}
			if tc.lang == wordstest.Code {
				for _, text := range []string{title, body, resolve} {
					if esc := wordstest.Escapes(text, names...); len(esc) > 0 {
						t.Errorf("%s: fixed text outside the catalogue: %q in %q", s, esc, text)
					}
				}
			}
		}
	}
}

// Every shipped catalogue's draft templates parse.
func TestDraftTemplatesParseInEveryLanguage(t *testing.T) {
	c := words.Builtin()
	for _, code := range c.Codes() {
		if _, err := draftTemplates(c.Lang(code)); err != nil {
			t.Error(err)
		}
	}
}
