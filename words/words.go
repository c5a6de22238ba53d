// Package words is the one catalogue of words per language that every
// surface uses: the status page, API v2 texts, feeds, badges, mail, the
// engine's proposed drafts, the console and the default update texts.
// A language is one embedded file, LANG.json, a flat object of keys to
// texts (Go fmt verbs, time layouts and, for draft.*, text/template
// bodies); adding one is that file plus page.languages. Every catalogue
// must have exactly the keys of en.json (Parse refuses one that does not).
// Nothing here does I/O beyond reading the embedded files.
package words

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/probed/probed/status"
)

//go:embed *.json
var files embed.FS

// builtin parses the embedded catalogues once; they never change.
var builtin = sync.OnceValues(func() (*Catalogue, error) { return Parse(files) })

// Builtin returns the catalogues shipped with probed (en, ja). It panics if
// they are broken, which a test rules out.
func Builtin() *Catalogue {
	c, err := builtin()
	if err != nil {
		panic(err)
	}
	return c
}

// Catalogue holds every language's words.
type Catalogue struct {
	langs map[string]*Lang
}

// Lang is one language's words.
type Lang struct {
	Code  string
	texts map[string]string
}

// Parse reads every LANG.json at the top of fsys. en.json is required and
// every other file must have exactly its keys.
func Parse(fsys fs.FS) (*Catalogue, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("read catalogues: %w", err)
	}
	c := &Catalogue{langs: map[string]*Lang{}}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read catalogue %s: %w", name, err)
		}
		texts := map[string]string{}
		if err := json.Unmarshal(b, &texts); err != nil {
			return nil, fmt.Errorf("read catalogue %s: %w", name, err)
		}
		code := strings.TrimSuffix(path.Base(name), ".json")
		c.langs[code] = &Lang{Code: code, texts: texts}
	}
	en := c.langs["en"]
	if en == nil {
		return nil, fmt.Errorf("read catalogues: no en.json")
	}
	for code, l := range c.langs {
		var missing, extra []string
		for k := range en.texts {
			if _, ok := l.texts[k]; !ok {
				missing = append(missing, k)
			}
		}
		for k := range l.texts {
			if _, ok := en.texts[k]; !ok {
				extra = append(extra, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 || len(extra) > 0 {
			return nil, fmt.Errorf("catalogue %s.json: missing %v, unknown %v (every catalogue has exactly the keys of en.json)", code, missing, extra)
		}
	}
	return c, nil
}

// Lang returns a language's words, or nil when there is no catalogue for it.
func (c *Catalogue) Lang(code string) *Lang { return c.langs[code] }

// Has reports whether there is a catalogue for the language.
func (c *Catalogue) Has(code string) bool { return c.langs[code] != nil }

// Codes returns the languages with a catalogue, sorted.
func (c *Catalogue) Codes() []string { return slices.Sorted(maps.Keys(c.langs)) }

// Text returns key in every language given (every catalogue's when none
// is): the default update texts are stored in all of them.
func (c *Catalogue) Text(key string, langs ...string) status.Text {
	if len(langs) == 0 {
		langs = c.Codes()
	}
	out := status.Text{}
	for _, code := range langs {
		if l := c.langs[code]; l != nil {
			out[code] = l.T(key)
		}
	}
	return out
}

// T returns key in lang, or in English when there is no catalogue for lang.
func (c *Catalogue) T(lang, key string) string {
	l := c.langs[lang]
	if l == nil {
		l = c.langs["en"]
	}
	return l.T(key)
}

// Keys returns every key of the catalogue, sorted.
func (l *Lang) Keys() []string { return slices.Sorted(maps.Keys(l.texts)) }

// T returns the text of key, or the key itself when there is none (Parse
// guarantees every catalogue has en's keys; a test checks every key a
// surface asks for is in en).
func (l *Lang) T(key string) string {
	if s, ok := l.texts[key]; ok {
		return s
	}
	return key
}

// F formats the text of key with args (fmt verbs).
func (l *Lang) F(key string, args ...any) string { return fmt.Sprintf(l.T(key), args...) }

// Status names a component status ("Partial Outage").
func (l *Lang) Status(s string) string { return l.T("status." + s) }

// Label names an incident or maintenance status as a timeline shows it
// ("Identified", "In progress"; "update" for an update that kept it).
func (l *Lang) Label(s string) string {
	if s == "" {
		s = status.StatusUpdate
	}
	return l.T("label." + s)
}

// Impact names an incident impact.
func (l *Lang) Impact(s string) string { return l.T("impact." + s) }
