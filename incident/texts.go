package incident

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
)

// textComp is a component as a draft's text names it, with its status in
// the text's language.
type textComp struct {
	ID, Name, Status, Code string
	// Title and Users say what failed and what users see (findings.go);
	// set for failing components.
	Title, Users string
}

type textData struct {
	Components []textComp // every component of the incident
	Failing    []textComp // those not operational
	// OneTitle is the title when the failing components share one (or
	// there is one); empty makes draft.title name them.
	OneTitle string
	Since    string // when the outage began, in the page's time zone (draft.time)
}

// drafted is a set of proposed texts, in every language of the page.
type drafted struct{ Title, Body status.Text }

// draftTemplates parses a language's draft.title, draft.body and
// draft.resolve: the catalogue holds the proposed texts as templates.
func draftTemplates(w *words.Lang) (*template.Template, error) {
	t := template.New(w.Code).Funcs(template.FuncMap{
		"last": func(i int, list []textComp) bool { return i == len(list)-1 },
		"names": func(cs []textComp) string {
			var out []string
			for _, c := range cs {
				if c.Code != status.Operational {
					out = append(out, c.Name)
				}
			}
			if len(out) == 0 {
				for _, c := range cs {
					out = append(out, c.Name)
				}
			}
			return strings.Join(out, w.T("draft.names.sep"))
		},
		"worst": func(cs []textComp) string {
			w2 := status.Operational
			for _, c := range cs {
				w2 = status.Worse(w2, c.Code)
			}
			return w.Status(w2)
		},
	})
	for _, name := range []string{"draft.title", "draft.body", "draft.resolve"} {
		if _, err := t.New(name).Parse(w.T(name)); err != nil {
			return nil, fmt.Errorf("catalogue %s: %s: %w", w.Code, name, err)
		}
	}
	return t, nil
}

// languages are the page's languages with a catalogue, the default first.
func (e *Engine) languages(cfg *config.Config) []string {
	var out []string
	for _, l := range cfg.Page.Languages {
		if e.words.Has(l) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = []string{"en"}
	}
	return out
}

func (e *Engine) textData(cfg *config.Config, w *words.Lang, comps []status.ComponentImpact, at time.Time) textData {
	loc := cfg.Page.Location
	if loc == nil {
		loc = time.UTC
	}
	d := textData{}
	for _, c := range comps {
		name := c.ID
		if cc := cfg.Component(c.ID); cc != nil && cc.Name != "" {
			name = cc.Name
		}
		tc := textComp{ID: c.ID, Name: name, Code: c.Status, Status: w.Status(c.Status)}
		d.Components = append(d.Components, tc)
		if c.Status == status.Operational {
			continue
		}
		tc.Title, tc.Users = e.findingOf(cfg, c).say(name, w)
		d.Failing = append(d.Failing, tc)
		if c.Since != nil && (at.IsZero() || c.Since.Before(at)) {
			at = *c.Since
		}
	}
	for i, c := range d.Failing {
		if i == 0 {
			d.OneTitle = c.Title
		} else if c.Title != d.OneTitle {
			d.OneTitle = ""
			break
		}
	}
	if at.IsZero() {
		at = e.clock.Now()
	}
	d.Since = at.In(loc).Format(w.T("draft.time"))
	return d
}

// findingOf is what failed for a failing component: the worst finding
// among the evidence of the sources its status rests on; with none (a
// status set by hand), a generic one for its status.
func (e *Engine) findingOf(cfg *config.Config, c status.ComponentImpact) finding {
	var evs []status.Evidence
	for _, s := range e.sources(cfg, c.ID) {
		if s.level != levelUp {
			evs = append(evs, s.evidence...)
		}
	}
	kindOf := func(probe string) string {
		if p := cfg.Probe(probe); p != nil {
			return p.Kind
		}
		return ""
	}
	if f, ok := worstFinding(evs, kindOf); ok {
		return f
	}
	if c.Status == status.DegradedPerformance {
		return finding{key: "slow"}
	}
	return finding{key: "service.failing"}
}

// render executes the named draft templates in every language of the page.
func (e *Engine) render(cfg *config.Config, names []string, comps []status.ComponentImpact, at time.Time) ([]status.Text, error) {
	out := make([]status.Text, len(names))
	for i := range out {
		out[i] = status.Text{}
	}
	for _, code := range e.languages(cfg) {
		w := e.words.Lang(code)
		t, err := draftTemplates(w)
		if err != nil {
			return nil, err
		}
		data := e.textData(cfg, w, comps, at)
		for i, n := range names {
			var b strings.Builder
			if err := t.ExecuteTemplate(&b, n, data); err != nil {
				return nil, fmt.Errorf("render %s in %s: %w", n, code, err)
			}
			out[i][code] = strings.TrimSpace(b.String())
		}
	}
	return out, nil
}

// texts proposes a draft's title and first update for its components.
func (e *Engine) texts(cfg *config.Config, comps []status.ComponentImpact) (drafted, error) {
	out, err := e.render(cfg, []string{"draft.title", "draft.body"}, comps, time.Time{})
	if err != nil {
		return drafted{}, err
	}
	return drafted{Title: out[0], Body: out[1]}, nil
}

// resolveTexts proposes the final update of an incident whose components recovered.
func (e *Engine) resolveTexts(cfg *config.Config, inc *status.Incident) (drafted, error) {
	var recovered time.Time
	for _, c := range inc.Components {
		if h, ok := e.comps[c.ID]; ok && h.Since.After(recovered) {
			recovered = h.Since
		}
	}
	comps := make([]status.ComponentImpact, len(inc.Components))
	for i, c := range inc.Components {
		comps[i] = status.ComponentImpact{ID: c.ID, Status: status.Operational}
	}
	out, err := e.render(cfg, []string{"draft.resolve"}, comps, recovered)
	if err != nil {
		return drafted{}, err
	}
	return drafted{Body: out[0]}, nil
}
