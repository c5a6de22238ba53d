package incident

import (
	"embed"
	"fmt"
	"github.com/probed/probed/status"
	"strings"
	"text/template"
	"time"

	"github.com/probed/probed/config"
)

//go:embed templates/texts.tmpl
var textFS embed.FS

var statusWords = map[string][2]string{
	status.Operational:         {"operational", "正常"},
	status.DegradedPerformance: {"degraded performance", "パフォーマンス低下"},
	status.PartialOutage:       {"partial outage", "一部停止"},
	status.MajorOutage:         {"major outage", "停止"},
	status.UnderMaintenance:    {"under maintenance", "メンテナンス中"},
}

// StatusWord is a component status in words, in English or Japanese.
func StatusWord(status, lang string) string {
	w, ok := statusWords[status]
	if !ok {
		return status
	}
	if lang == "ja" {
		return w[1]
	}
	return w[0]
}

type textComp struct {
	ID, Name, Status, StatusEN, StatusJA string
}

type textData struct {
	Components []textComp // every component of the incident
	Failing    []textComp // those not operational
	Since      string     // "2026-03-01 10:03 UTC" in the page's time zone
	SinceJA    string     // "2026年3月1日 10:03 (UTC)"
}

// drafted is a set of proposed texts.
type drafted struct{ Title, Body status.Text }

func newTextTemplates() *template.Template {
	return template.Must(template.New("texts").Funcs(template.FuncMap{
		"last": func(i int, list []textComp) bool { return i == len(list)-1 },
		"names": func(cs []textComp, lang string) string {
			var out []string
			for _, c := range cs {
				if c.Status != status.Operational {
					out = append(out, c.Name)
				}
			}
			if len(out) == 0 {
				for _, c := range cs {
					out = append(out, c.Name)
				}
			}
			if lang == "ja" {
				return strings.Join(out, "・")
			}
			return strings.Join(out, ", ")
		},
		"worst": func(cs []textComp, lang string) string {
			w := status.Operational
			for _, c := range cs {
				if status.Rank(c.Status) > status.Rank(w) {
					w = c.Status
				}
			}
			return StatusWord(w, lang)
		},
	}).ParseFS(textFS, "templates/texts.tmpl"))
}

func (e *Engine) textData(cfg *config.Config, comps []status.ComponentImpact, at time.Time) textData {
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
		tc := textComp{ID: c.ID, Name: name, Status: c.Status, StatusEN: StatusWord(c.Status, "en"), StatusJA: StatusWord(c.Status, "ja")}
		d.Components = append(d.Components, tc)
		if c.Status != status.Operational {
			d.Failing = append(d.Failing, tc)
			if c.Since != nil && (at.IsZero() || c.Since.Before(at)) {
				at = *c.Since
			}
		}
	}
	if at.IsZero() {
		at = e.clock.Now()
	}
	t := at.In(loc)
	d.Since = t.Format("2006-01-02 15:04 MST")
	d.SinceJA = fmt.Sprintf("%d年%d月%d日 %s (%s)", t.Year(), int(t.Month()), t.Day(), t.Format("15:04"), t.Format("MST"))
	return d
}

func (e *Engine) render(names []string, data textData) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		var b strings.Builder
		if err := e.tmpl.ExecuteTemplate(&b, n, data); err != nil {
			return nil, fmt.Errorf("render %s: %w", n, err)
		}
		out[i] = strings.TrimSpace(b.String())
	}
	return out, nil
}

// texts proposes a draft's title and first update for its components.
func (e *Engine) texts(cfg *config.Config, comps []status.ComponentImpact) (drafted, error) {
	out, err := e.render([]string{"title.en", "title.ja", "body.en", "body.ja"}, e.textData(cfg, comps, time.Time{}))
	if err != nil {
		return drafted{}, err
	}
	return drafted{Title: status.Text{"en": out[0], "ja": out[1]}, Body: status.Text{"en": out[2], "ja": out[3]}}, nil
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
	out, err := e.render([]string{"resolve.en", "resolve.ja"}, e.textData(cfg, comps, recovered))
	if err != nil {
		return drafted{}, err
	}
	return drafted{Body: status.Text{"en": out[0], "ja": out[1]}}, nil
}
