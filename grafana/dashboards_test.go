package grafana

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite dashboards/*.json from the Go definitions")

// TestDashboardFiles keeps the provisioned JSON equal to the Go definitions.
func TestDashboardFiles(t *testing.T) {
	for name, d := range All() {
		want, err := Render(d)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("dashboards", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run: go test ./grafana -run TestDashboardFiles -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its Go definition; run: go test ./grafana -run TestDashboardFiles -update", path)
		}
	}
	entries, _ := os.ReadDir("dashboards")
	if len(entries) != len(All()) {
		t.Errorf("dashboards/ holds %d files, want %d: remove stale ones", len(entries), len(All()))
	}
}

// TestDashboardJSON checks the files as Grafana reads them: valid JSON,
// unique panel ids, every query on the datasource variable, no __inputs.
func TestDashboardJSON(t *testing.T) {
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("%s: invalid JSON: %v", f, err)
		}
		if _, ok := raw["__inputs"]; ok {
			t.Errorf("%s: __inputs only works on manual import; provisioning needs the datasource variable", f)
		}
		if strings.Contains(string(b), "DS_PROMETHEUS") {
			t.Errorf("%s: uses ${DS_PROMETHEUS}", f)
		}
		var d Dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: needs uid and title", f)
		}
		for _, problem := range Lint(d) {
			t.Errorf("%s: %s", f, problem)
		}
	}
}

// TestLintCatchesProblems proves the linter is not vacuous.
func TestLintCatchesProblems(t *testing.T) {
	d := Overview()
	d.Panels[0].Description = ""
	d.Panels[0].FieldConfig.Defaults.Unit = ""
	d.Panels[4].Targets[0].Expr = `sum(probed_probe_runs_total{job=~"$job", instance=~"$instance"})`
	d.Panels[3].Targets[0].Expr = `rate(probe_duration_seconds[5m])`
	d.Templating.List = d.Templating.List[:1]
	got := strings.Join(Lint(d), "\n")
	for _, want := range []string{"panel-title-description-rule", "panel-units-rule", "target-counter-agg-rule",
		"target-rate-interval-rule", "target-job-rule", "target-instance-rule", "template-job-rule", "template-instance-rule"} {
		if !strings.Contains(got, want) {
			t.Errorf("Lint did not report %s; got:\n%s", want, got)
		}
	}
}

// TestProvisioning checks the provisioning file's shape and that it points
// at the dashboards folder.
func TestProvisioning(t *testing.T) {
	b, err := os.ReadFile("provisioning/dashboards.yml")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name   string `yaml:"name"`
			OrgID  int    `yaml:"orgId"`
			Folder string `yaml:"folder"`
			Type   string `yaml:"type"`
			// Grafana's other provider keys.
			DisableDeletion       bool `yaml:"disableDeletion"`
			AllowUIUpdates        bool `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int  `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != 1 || len(p.Providers) != 1 || p.Providers[0].Type != "file" || p.Providers[0].Options.Path == "" || p.Providers[0].Folder == "" {
		t.Errorf("provisioning = %+v, want apiVersion 1 and one file provider with a folder and a path", p)
	}
}
