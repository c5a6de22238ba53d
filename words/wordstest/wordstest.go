// Package wordstest helps tests prove that every fixed text a surface shows
// comes from the catalogue: Pseudo makes a pseudo-locale whose every text is
// the English one wrapped in ⟦ ⟧, and Escapes finds the words of a
// rendering that are outside any wrapping and are not data.
package wordstest

import (
	"encoding/json"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing/fstest"
	"unicode"

	"github.com/probed/probed/words"
)

// Code is the pseudo-locale's language code.
const Code = "xx"

// Pseudo returns a catalogue of en and the pseudo-locale xx: every text
// of en wrapped in ⟦ ⟧ (fmt verbs, time layouts and templates keep working
// inside the brackets).
func Pseudo() (*words.Catalogue, error) {
	en := words.Builtin().Lang("en")
	xx := map[string]string{}
	for _, k := range en.Keys() {
		xx[k] = "⟦" + en.T(k) + "⟧"
	}
	// draft.names.sep joins data: a wrapped separator would split names
	// across brackets, so it stays as it is (it holds no word).
	xx["draft.names.sep"] = en.T("draft.names.sep")
	enJSON, err := json.Marshal(textsOf(en))
	if err != nil {
		return nil, err
	}
	xxJSON, err := json.Marshal(xx)
	if err != nil {
		return nil, err
	}
	return words.Parse(fstest.MapFS{"en.json": {Data: enJSON}, Code + ".json": {Data: xxJSON}})
}

func textsOf(l *words.Lang) map[string]string {
	out := map[string]string{}
	for _, k := range l.Keys() {
		out[k] = l.T(k)
	}
	return out
}

var wrapped = regexp.MustCompile(`⟦[^⟦⟧]*⟧`)

// Escapes returns the pieces of text that contain a letter and are neither
// inside ⟦ ⟧ nor one of data (names, titles, bodies, URLs the test put
// there): fixed text that did not come from the catalogue.
func Escapes(text string, data ...string) []string {
	for {
		next := wrapped.ReplaceAllString(text, " ")
		if next == text {
			break
		}
		text = next
	}
	data = slices.Clone(data)
	// Longest data first, so a name inside a longer one is not cut out of it.
	for range data {
		longest := -1
		for i, d := range data {
			if d != "" && (longest < 0 || len(d) > len(data[longest])) {
				longest = i
			}
		}
		if longest < 0 {
			break
		}
		text = strings.ReplaceAll(text, data[longest], " ")
		data[longest] = ""
	}
	var out []string
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return unicode.IsSpace(r) }) {
		if strings.IndexFunc(f, unicode.IsLetter) >= 0 {
			out = append(out, f)
		}
	}
	return out
}

var (
	pageScripts = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>`)
	pageAttrs   = regexp.MustCompile(`(?:title|aria-label|alt|placeholder|value)="([^"]*)"`)
	pageTags    = regexp.MustCompile(`<[^>]*>`)
)

// PageText is the text a reader of an HTML page sees: the text between
// tags, and the title, aria-label, alt and placeholder attributes and the
// value attributes that hold catalogue text (a button's, not a field's
// data), all unescaped; scripts and styles left out. skip are further
// elements to leave out (e.g. `(?s)<code[^>]*>.*?</code>` for commands).
func PageText(page string, skip ...*regexp.Regexp) string {
	body := pageScripts.ReplaceAllString(page, " ")
	for _, re := range skip {
		body = re.ReplaceAllString(body, " ")
	}
	var text strings.Builder
	for _, m := range pageAttrs.FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[0], "value=") || strings.Contains(m[1], "⟦") {
			text.WriteString(html.UnescapeString(m[1]) + "\n")
		}
	}
	text.WriteString(html.UnescapeString(pageTags.ReplaceAllString(body, " ")))
	return text.String()
}
