package grafana

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

var metricRE = regexp.MustCompile(`\b(probed?_[a-z0-9_]+)\b`)

// MetricNames returns every probe_/probed_ series name a dashboard queries,
// sorted, as written: a histogram's foo_bucket, foo_sum and foo_count stay
// as they are, since only the exposition knows whether foo is a histogram
// (a gauge may end in _count too). Callers match them against its families.
func MetricNames(d Dashboard) []string {
	seen := map[string]bool{}
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			for _, m := range metricRE.FindAllString(t.Expr, -1) {
				seen[m] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// counters are the counter families probed exports that dashboards query.
var counterRE = regexp.MustCompile(`\b(probed?_[a-z0-9_]+_total|probed_[a-z0-9_]+_bucket)\b`)

// Lint applies the grafana/dashboard-linter rules probed holds itself to and
// returns every problem found.
func Lint(d Dashboard) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(d.UID+": "+format, args...)) }
	vars := map[string]Variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || v.Query != "prometheus" {
		add("template-datasource-rule: needs a datasource variable of type datasource, query prometheus")
	}
	for _, name := range []string{"job", "instance"} {
		v, ok := vars[name]
		switch {
		case !ok:
			add("template-%s-rule: missing $%s variable", name, name)
		case v.Datasource == nil || v.Datasource.UID != "${datasource}":
			add("template-%s-rule: $%s must query ${datasource}", name, name)
		case !v.Multi || !v.IncludeAll:
			add("template-%s-rule: $%s must be multi-value with All", name, name)
		}
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			add("panel %d: duplicate id", p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" || p.Description == "" {
			add("panel-title-description-rule: panel %d needs a title and a description", p.ID)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			add("panel-datasource-rule: panel %q must use ${datasource}", p.Title)
		}
		if p.FieldConfig.Defaults.Unit == "" {
			add("panel-units-rule: panel %q has no unit", p.Title)
		}
		for _, t := range p.Targets {
			if t.Datasource == nil || t.Datasource.UID != "${datasource}" {
				add("panel-datasource-rule: a query of %q must use ${datasource}", p.Title)
			}
			if strings.Contains(t.Expr, "DS_PROMETHEUS") {
				add("panel %q uses ${DS_PROMETHEUS}, which only works on manual import", p.Title)
			}
			if !strings.Contains(t.Expr, `job=~"$job"`) {
				add("target-job-rule: %q query lacks job=~\"$job\": %s", p.Title, t.Expr)
			}
			if !strings.Contains(t.Expr, `instance=~"$instance"`) {
				add("target-instance-rule: %q query lacks instance=~\"$instance\": %s", p.Title, t.Expr)
			}
			if strings.Contains(t.Expr, "rate(") && !strings.Contains(t.Expr, "[$__rate_interval]") {
				add("target-rate-interval-rule: %q uses rate without $__rate_interval", p.Title)
			}
			for _, m := range counterRE.FindAllStringIndex(t.Expr, -1) {
				before := t.Expr[:m[0]]
				if !strings.HasSuffix(strings.TrimSpace(before), "rate(") && !strings.HasSuffix(strings.TrimSpace(before), "increase(") {
					add("target-counter-agg-rule: %q reads counter %s without rate or increase", p.Title, t.Expr[m[0]:m[1]])
				}
			}
		}
	}
	return out
}
