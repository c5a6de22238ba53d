// Package grafana holds probed's Grafana dashboards, written as Go so every
// panel follows the same conventions (a datasource variable, job, instance
// and location variables, units, descriptions, $__rate_interval), and
// rendered to the JSON files under dashboards/ that Grafana provisions.
// Regenerate them with: go test ./grafana -run TestDashboardFiles -update
package grafana

import (
	"encoding/json"
	"fmt"
)

// Dashboard is the part of Grafana's dashboard model probed uses.
type Dashboard struct {
	UID           string     `json:"uid"`
	Title         string     `json:"title"`
	Description   string     `json:"description"`
	Tags          []string   `json:"tags"`
	Timezone      string     `json:"timezone"`
	SchemaVersion int        `json:"schemaVersion"`
	Version       int        `json:"version"`
	Editable      bool       `json:"editable"`
	Refresh       string     `json:"refresh"`
	Time          TimeRange  `json:"time"`
	Templating    Templating `json:"templating"`
	Panels        []Panel    `json:"panels"`
	Links         []Link     `json:"links"`
}

// TimeRange is the default time range.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Link points at the other probed dashboards.
type Link struct {
	Title       string   `json:"title"`
	Type        string   `json:"type"`
	Tags        []string `json:"tags"`
	AsDropdown  bool     `json:"asDropdown"`
	IncludeVars bool     `json:"includeVars"`
	KeepTime    bool     `json:"keepTime"`
}

// Templating holds the variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable is a template variable.
type Variable struct {
	Name       string      `json:"name"`
	Label      string      `json:"label"`
	Type       string      `json:"type"`
	Query      any         `json:"query"`
	Datasource *Datasource `json:"datasource,omitempty"`
	Definition string      `json:"definition,omitempty"`
	Refresh    int         `json:"refresh,omitempty"`
	IncludeAll bool        `json:"includeAll"`
	Multi      bool        `json:"multi"`
	AllValue   string      `json:"allValue,omitempty"`
	Current    any         `json:"current"`
	Hide       int         `json:"hide"`
	Sort       int         `json:"sort,omitempty"`
}

// Datasource references the data source through the datasource variable.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Panel is one panel.
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *Datasource `json:"datasource,omitempty"`
	GridPos     GridPos     `json:"gridPos"`
	FieldConfig FieldConfig `json:"fieldConfig"`
	Options     any         `json:"options,omitempty"`
	Targets     []Target    `json:"targets"`
	Transforms  []Transform `json:"transformations,omitempty"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// FieldConfig sets the unit, thresholds and value mappings.
type FieldConfig struct {
	Defaults  FieldDefaults `json:"defaults"`
	Overrides []any         `json:"overrides"`
}

// FieldDefaults are the per-field defaults.
type FieldDefaults struct {
	Unit       string      `json:"unit"`
	Decimals   *int        `json:"decimals,omitempty"`
	Min        *float64    `json:"min,omitempty"`
	Max        *float64    `json:"max,omitempty"`
	Thresholds *Thresholds `json:"thresholds,omitempty"`
	Mappings   []any       `json:"mappings,omitempty"`
	Color      any         `json:"color,omitempty"`
	Custom     any         `json:"custom,omitempty"`
}

// Thresholds colour values.
type Thresholds struct {
	Mode  string `json:"mode"`
	Steps []Step `json:"steps"`
}

// Step is one threshold.
type Step struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

// Target is one PromQL query.
type Target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat,omitempty"`
	Instant      bool        `json:"instant,omitempty"`
	Range        bool        `json:"range"`
	Format       string      `json:"format,omitempty"`
	Datasource   *Datasource `json:"datasource"`
}

// Transform is a Grafana transformation.
type Transform struct {
	ID      string `json:"id"`
	Options any    `json:"options"`
}

// DS is the datasource every panel and query uses: the ${datasource} variable.
var DS = &Datasource{Type: "prometheus", UID: "${datasource}"}

// Sel is the label selector every query carries.
const Sel = `job=~"$job", instance=~"$instance"`

// ProbeSel adds the location variable for probe series.
const ProbeSel = Sel + `, location=~"$location"`

func f(v float64) *float64 { return &v }

func variables() Templating {
	qv := func(name, label, query string) Variable {
		return Variable{Name: name, Label: label, Type: "query", Datasource: DS,
			Query:      map[string]any{"query": query, "refId": name},
			Definition: query, Refresh: 2, IncludeAll: true, Multi: true, AllValue: ".*",
			Current: map[string]any{"text": "All", "value": "$__all"}, Sort: 1}
	}
	return Templating{List: []Variable{
		{Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus", Current: map[string]any{}},
		qv("job", "Job", `label_values(probed_build_info, job)`),
		qv("instance", "Instance", `label_values(probed_build_info{job=~"$job"}, instance)`),
		qv("location", "Location", `label_values(probe_success{job=~"$job", instance=~"$instance"}, location)`),
	}}
}

func dashboard(uid, title, desc string, panels []Panel) Dashboard {
	for i := range panels {
		panels[i].ID = i + 1
		panels[i].Datasource = DS
		for j := range panels[i].Targets {
			panels[i].Targets[j].RefID = string(rune('A' + j))
			panels[i].Targets[j].Datasource = DS
			if !panels[i].Targets[j].Instant {
				panels[i].Targets[j].Range = true
			}
		}
		if panels[i].FieldConfig.Overrides == nil {
			panels[i].FieldConfig.Overrides = []any{}
		}
	}
	return Dashboard{UID: uid, Title: title, Description: desc, Tags: []string{"probed"}, Timezone: "utc",
		SchemaVersion: 39, Version: 1, Editable: true, Refresh: "1m", Time: TimeRange{"now-24h", "now"},
		Templating: variables(), Panels: panels,
		Links: []Link{{Title: "probed", Type: "dashboards", Tags: []string{"probed"}, AsDropdown: true, IncludeVars: true, KeepTime: true}}}
}

// statusMappings names the ranks statusExpr returns.
var statusMappings = []any{map[string]any{"type": "value", "options": map[string]any{
	"0": map[string]any{"text": "operational", "color": "green"}, "1": map[string]any{"text": "degraded_performance", "color": "yellow"},
	"2": map[string]any{"text": "partial_outage", "color": "orange"}, "3": map[string]any{"text": "major_outage", "color": "red"},
	"4": map[string]any{"text": "under_maintenance", "color": "blue"}}}}

// statusExpr turns a {component, status} one-hot gauge into one rank per
// component (0 operational … 4 under_maintenance).
func statusExpr(metric string) string {
	return fmt.Sprintf(`max by (component) (
  %[2]s{%[1]s, status="degraded_performance"} * 1
  or %[2]s{%[1]s, status="partial_outage"} * 2
  or %[2]s{%[1]s, status="major_outage"} * 3
  or %[2]s{%[1]s, status="under_maintenance"} * 4
  or %[2]s{%[1]s, status="operational"} * 0)`, Sel, metric)
}

func greenRed(red float64) *Thresholds {
	return &Thresholds{Mode: "absolute", Steps: []Step{{Color: "green"}, {Color: "red", Value: f(red)}}}
}

func redGreen(green float64) *Thresholds {
	return &Thresholds{Mode: "absolute", Steps: []Step{{Color: "red"}, {Color: "green", Value: f(green)}}}
}

// Overview: components, failing probes, availability and latency.
func Overview() Dashboard {
	return dashboard("probed-overview", "probed / Overview", "Every component's probe status, what fails now, availability and latency.", []Panel{
		{Type: "state-timeline", Title: "Component status over time",
			Description: "What the incident holder decided for each component from every location it knows, with the quorum (probed_component_detected_status): one location of three failing stays operational, all of them failing is a major outage. Before any operator decision; the public status is the last panel.",
			GridPos:     GridPos{H: 10, W: 24, X: 0, Y: 0},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "none", Thresholds: greenRed(1), Mappings: statusMappings}},
			Options:     map[string]any{"showValue": "never", "mergeValues": true, "rowHeight": 0.8},
			Targets:     []Target{{Expr: statusExpr("probed_component_detected_status"), LegendFormat: "{{component}}"}}},
		{Type: "table", Title: "Probes failing now",
			Description: "Checks failing on the last run of each probe, with the location that saw it. The probe's message and evidence are in the probed console.",
			GridPos:     GridPos{H: 9, W: 12, X: 0, Y: 10},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "none"}},
			Targets:     []Target{{Expr: fmt.Sprintf(`probe_check_success{%s} == 0`, ProbeSel), Instant: true, Format: "table"}},
			Transforms: []Transform{{ID: "organize", Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Value": true, "__name__": true, "job": true},
				"indexByName":   map[string]any{"component": 0, "probe": 1, "check": 2, "severity": 3, "location": 4, "kind": 5, "instance": 6}}}}},
		{Type: "bargauge", Title: "Availability per component (30 days)",
			Description: "Share of successful probe runs per component over the last 30 days, all selected locations together.",
			GridPos:     GridPos{H: 9, W: 12, X: 12, Y: 10},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "percentunit", Min: f(0.9), Max: f(1), Decimals: new(int(3)),
				Thresholds: &Thresholds{Mode: "absolute", Steps: []Step{{Color: "red"}, {Color: "orange", Value: f(0.99)}, {Color: "green", Value: f(0.999)}}}}},
			Options: map[string]any{"orientation": "horizontal", "displayMode": "basic"},
			Targets: []Target{{Expr: fmt.Sprintf(`avg by (component) (avg_over_time(probe_success{%s}[30d]))`, ProbeSel), Instant: true, LegendFormat: "{{component}}"}}},
		{Type: "timeseries", Title: "Probe latency p50 and p99 per kind",
			Description: "Median and 99th percentile of probe run duration per kind across probes and locations. BR §4.10.2 asks OCSP responders to answer within 10 s.",
			GridPos:     GridPos{H: 9, W: 12, X: 0, Y: 19},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "s", Min: f(0)}},
			Targets: []Target{
				{Expr: fmt.Sprintf(`quantile by (kind) (0.5, probe_duration_seconds{%s})`, ProbeSel), LegendFormat: "{{kind}} p50"},
				{Expr: fmt.Sprintf(`quantile by (kind) (0.99, probe_duration_seconds{%s})`, ProbeSel), LegendFormat: "{{kind}} p99"}}},
		{Type: "timeseries", Title: "Probe runs by result",
			Description: "Probe runs per second: successes, failures, and runs skipped because the previous run of the same probe was still going.",
			GridPos:     GridPos{H: 9, W: 12, X: 12, Y: 19},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "ops", Min: f(0)}},
			Targets:     []Target{{Expr: fmt.Sprintf(`sum by (result) (rate(probed_probe_runs_total{%s}[$__rate_interval]))`, Sel), LegendFormat: "{{result}}"}}},
		{Type: "state-timeline", Title: "Public component status",
			Description: "The status shown on the public page, as set by operator-approved incidents and maintenance (not by probes alone).",
			GridPos:     GridPos{H: 10, W: 24, X: 0, Y: 28},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "none", Thresholds: greenRed(1), Mappings: statusMappings}},
			Options:     map[string]any{"showValue": "never", "mergeValues": true},
			Targets:     []Target{{Expr: statusExpr("probed_component_status"), LegendFormat: "{{component}}"}}},
	})
}

// PKIFreshness: OCSP, CRL and TSA against the Baseline Requirements' limits.
func PKIFreshness() Dashboard {
	day := 86400.0
	return dashboard("probed-pki", "probed / PKI freshness", "OCSP, CRL and timestamp authority freshness against the CA/Browser Forum limits.", []Panel{
		{Type: "timeseries", Title: "Time left to OCSP nextUpdate",
			Description: "Seconds until each responder's response expires. Below 1 day warns; below 0 the response is stale and relying parties fail.",
			GridPos:     GridPos{H: 9, W: 12, X: 0, Y: 0},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "s", Thresholds: redGreen(day), Custom: map[string]any{"thresholdsStyle": map[string]any{"mode": "line"}}}},
			Targets:     []Target{{Expr: fmt.Sprintf(`probe_ocsp_next_update_timestamp_seconds{%s} - time()`, ProbeSel), LegendFormat: "{{probe}} @ {{location}}"}}},
		{Type: "timeseries", Title: "OCSP response age",
			Description: "Time since thisUpdate of each responder's response. The BRs require a refresh at least every 4 days (line).",
			GridPos:     GridPos{H: 9, W: 12, X: 12, Y: 0},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "s", Min: f(0), Thresholds: greenRed(4 * day), Custom: map[string]any{"thresholdsStyle": map[string]any{"mode": "line"}}}},
			Targets:     []Target{{Expr: fmt.Sprintf(`time() - probe_ocsp_this_update_timestamp_seconds{%s}`, ProbeSel), LegendFormat: "{{probe}} @ {{location}}"}}},
		{Type: "timeseries", Title: "Time left to CRL nextUpdate",
			Description: "Seconds until each CRL expires. A CA must publish a new CRL before nextUpdate (BR §4.9.7); below 1 day warns.",
			GridPos:     GridPos{H: 9, W: 12, X: 0, Y: 9},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "s", Thresholds: redGreen(day), Custom: map[string]any{"thresholdsStyle": map[string]any{"mode": "line"}}}},
			Targets:     []Target{{Expr: fmt.Sprintf(`probe_crl_next_update_timestamp_seconds{%s} - time()`, ProbeSel), LegendFormat: "{{probe}} @ {{location}}"}}},
		{Type: "timeseries", Title: "CRL size",
			Description: "Bytes of each CRL as downloaded. Sudden growth means mass revocation; sudden shrinkage may mean dropped entries.",
			GridPos:     GridPos{H: 9, W: 6, X: 12, Y: 9},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "bytes", Min: f(0)}},
			Targets:     []Target{{Expr: fmt.Sprintf(`probe_crl_bytes{%s}`, ProbeSel), LegendFormat: "{{probe}}"}}},
		{Type: "timeseries", Title: "CRL entries",
			Description: "Revoked certificates listed in each CRL.",
			GridPos:     GridPos{H: 9, W: 6, X: 18, Y: 9},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "short", Min: f(0)}},
			Targets:     []Target{{Expr: fmt.Sprintf(`probe_crl_entries{%s}`, ProbeSel), LegendFormat: "{{probe}}"}}},
		{Type: "timeseries", Title: "TSA clock skew",
			Description: "genTime of the timestamp token minus the probe's clock at the midpoint of the exchange. The Code Signing BRs ask for 1 s accuracy (lines at ±1 s).",
			GridPos:     GridPos{H: 9, W: 12, X: 0, Y: 18},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "s", Thresholds: &Thresholds{Mode: "absolute", Steps: []Step{{Color: "red"}, {Color: "green", Value: f(-1)}, {Color: "red", Value: f(1)}}}, Custom: map[string]any{"thresholdsStyle": map[string]any{"mode": "line"}}}},
			Targets:     []Target{{Expr: fmt.Sprintf(`probe_tsa_clock_skew_seconds{%s}`, ProbeSel), LegendFormat: "{{probe}} @ {{location}}"}}},
		{Type: "timeseries", Title: "TSA accuracy",
			Description: "The accuracy each TSA declares in its tokens (RFC 3161 accuracy field).",
			GridPos:     GridPos{H: 9, W: 12, X: 12, Y: 18},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "s", Min: f(0)}},
			Targets:     []Target{{Expr: fmt.Sprintf(`probe_tsa_accuracy_seconds{%s}`, ProbeSel), LegendFormat: "{{probe}}"}}},
		{Type: "table", Title: "Signer and certificate expiries",
			Description: "Time left before TSA signing certificates and TLS certificates served by probed targets expire, soonest first.",
			GridPos:     GridPos{H: 9, W: 24, X: 0, Y: 27},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "s", Thresholds: redGreen(30 * day)}},
			Options:     map[string]any{"sortBy": []any{map[string]any{"displayName": "Value", "desc": false}}},
			Targets: []Target{
				{Expr: fmt.Sprintf(`min by (probe, kind) (probe_tsa_signer_expiry_timestamp_seconds{%s}) - time()`, ProbeSel), Instant: true, Format: "table", LegendFormat: "TSA signer {{probe}}"},
				{Expr: fmt.Sprintf(`min by (probe, kind) (probe_tls_cert_expiry_timestamp_seconds{%s}) - time()`, ProbeSel), Instant: true, Format: "table", LegendFormat: "TLS {{probe}}"}}},
	})
}

// Self: probed's own health.
func Self() Dashboard {
	return dashboard("probed-self", "probed / probed itself", "Scheduling, runs, store, notifications and configuration of the probed instances.", []Panel{
		{Type: "timeseries", Title: "Schedule lag p50 and p99",
			Description: "Delay between when a probe run was due and when it started. Sustained lag means the concurrency limit or CPU is saturated.",
			GridPos:     GridPos{H: 8, W: 12, X: 0, Y: 0},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "s", Min: f(0)}},
			Targets: []Target{
				{Expr: fmt.Sprintf(`histogram_quantile(0.5, sum by (instance, le) (rate(probed_schedule_lag_seconds_bucket{%s}[$__rate_interval])))`, Sel), LegendFormat: "{{instance}} p50"},
				{Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (instance, le) (rate(probed_schedule_lag_seconds_bucket{%s}[$__rate_interval])))`, Sel), LegendFormat: "{{instance}} p99"}}},
		{Type: "timeseries", Title: "Runs by result",
			Description: "Probe runs per second by result, per instance.",
			GridPos:     GridPos{H: 8, W: 12, X: 12, Y: 0},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "ops", Min: f(0)}},
			Targets:     []Target{{Expr: fmt.Sprintf(`sum by (instance, result) (rate(probed_probe_runs_total{%s}[$__rate_interval]))`, Sel), LegendFormat: "{{instance}} {{result}}"}}},
		{Type: "timeseries", Title: "Store queue",
			Description: "Results waiting for the SQLite writer. It should stay near zero; growth means the disk or a lock holds the writer.",
			GridPos:     GridPos{H: 8, W: 8, X: 0, Y: 8},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "short", Min: f(0)}},
			Targets:     []Target{{Expr: fmt.Sprintf(`probed_store_queue_length{%s}`, Sel), LegendFormat: "{{instance}}"}}},
		{Type: "timeseries", Title: "Notifications pending",
			Description: "Mails and webhooks queued for delivery.",
			GridPos:     GridPos{H: 8, W: 8, X: 8, Y: 8},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "short", Min: f(0)}},
			Targets:     []Target{{Expr: fmt.Sprintf(`probed_notifications_pending{%s}`, Sel), LegendFormat: "{{instance}}"}}},
		{Type: "timeseries", Title: "Notifications sent and failed",
			Description: "Deliveries per second that the relay accepted, and failures by reason.",
			GridPos:     GridPos{H: 8, W: 8, X: 16, Y: 8},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "ops", Min: f(0)}},
			Targets: []Target{
				{Expr: fmt.Sprintf(`sum by (instance) (rate(probed_notifications_sent_total{%s}[$__rate_interval]))`, Sel), LegendFormat: "{{instance}} sent"},
				{Expr: fmt.Sprintf(`sum by (instance, reason) (rate(probed_notifications_failed_total{%s}[$__rate_interval]))`, Sel), LegendFormat: "{{instance}} failed: {{reason}}"}}},
		{Type: "stat", Title: "Config reload status",
			Description: "Whether each instance's last configuration (re)load succeeded. Failed: the previous configuration keeps running; run probed check-config.",
			GridPos:     GridPos{H: 6, W: 12, X: 0, Y: 16},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "none", Thresholds: redGreen(1), Mappings: []any{map[string]any{"type": "value", "options": map[string]any{
				"0": map[string]any{"text": "Failed", "color": "red"}, "1": map[string]any{"text": "OK", "color": "green"}}}}}},
			Targets: []Target{{Expr: fmt.Sprintf(`probed_config_last_reload_successful{%s}`, Sel), LegendFormat: "{{instance}}"}}},
		{Type: "timeseries", Title: "Probe runs in flight",
			Description: "Probe runs executing now per instance, against the scheduler's concurrency limit.",
			GridPos:     GridPos{H: 6, W: 12, X: 12, Y: 16},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "short", Min: f(0)}},
			Targets:     []Target{{Expr: fmt.Sprintf(`probed_probe_runs_in_flight{%s}`, Sel), LegendFormat: "{{instance}}"}}},
		{Type: "timeseries", Title: "Operator webhooks",
			Description: "Drafts and resolve proposals posted to the on-call operator's webhooks (notify.operator_webhooks): accepted, failed by reason (temporary ones are retried; permanent and expired ones are lost), and events waiting. Alert: OperatorWebhookFailing.",
			GridPos:     GridPos{H: 8, W: 24, X: 0, Y: 22},
			FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: "short", Min: f(0)}},
			Targets: []Target{
				{Expr: fmt.Sprintf(`sum by (instance, webhook) (increase(probed_operator_webhooks_sent_total{%s}[$__rate_interval]))`, Sel), LegendFormat: "{{instance}} {{webhook}} sent"},
				{Expr: fmt.Sprintf(`sum by (instance, webhook, reason) (increase(probed_operator_webhooks_failed_total{%s}[$__rate_interval]))`, Sel), LegendFormat: "{{instance}} {{webhook}} failed: {{reason}}"},
				{Expr: fmt.Sprintf(`probed_operator_webhooks_pending{%s}`, Sel), LegendFormat: "{{instance}} waiting"}}},
	})
}

// All returns every dashboard by file name.
func All() map[string]Dashboard {
	return map[string]Dashboard{
		"probed-overview.json": Overview(),
		"probed-pki.json":      PKIFreshness(),
		"probed-self.json":     Self(),
	}
}

// Render returns a dashboard as indented JSON with a trailing newline.
func Render(d Dashboard) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render dashboard %s: %w", d.UID, err)
	}
	return append(b, '\n'), nil
}
