package status

import (
	"maps"
	"slices"
	"strings"
)

// Text is one text in several languages, keyed by language code ("en",
// "ja", any language with a catalogue). Titles, update bodies and proposals
// are Texts; the store keeps one row per language.
type Text map[string]string

// In returns the text in lang; when there is none, in the first fallback
// that has one, then in English, then in any language (the first by code),
// so every reader shows something rather than nothing.
func (t Text) In(lang string, fallback ...string) string {
	for _, l := range append([]string{lang}, append(fallback, "en")...) {
		if s := t[l]; strings.TrimSpace(s) != "" {
			return s
		}
	}
	for _, l := range slices.Sorted(maps.Keys(t)) {
		if strings.TrimSpace(t[l]) != "" {
			return t[l]
		}
	}
	return ""
}

// Has reports whether the text is given in lang (not blank).
func (t Text) Has(lang string) bool { return strings.TrimSpace(t[lang]) != "" }

// Empty reports whether no language has a text.
func (t Text) Empty() bool {
	for _, s := range t {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// Clean returns the text without its blank languages (nil when none is left).
func (t Text) Clean() Text {
	var out Text
	for l, s := range t {
		if strings.TrimSpace(s) != "" && l != "" {
			if out == nil {
				out = Text{}
			}
			out[l] = s
		}
	}
	return out
}

// With returns a copy of t with the languages of u replacing its own; a
// blank text in u removes that language.
func (t Text) With(u Text) Text {
	out := maps.Clone(t)
	if out == nil {
		out = Text{}
	}
	for l, s := range u {
		if strings.TrimSpace(s) == "" {
			delete(out, l)
		} else {
			out[l] = s
		}
	}
	return out
}

// Languages returns the languages the text is given in, sorted.
func (t Text) Languages() []string { return slices.Sorted(maps.Keys(t.Clean())) }
