package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/demo"
	"github.com/probed/probed/probes"
)

// TestREADMEDeploymentConfigs: the holder and prober configurations the
// README's "Deployment: several locations" gives, with the fragment
// `probed demo -ca-only` prints appended as the README says, load strictly
// and say what the section claims; the delays it states rest on the shipped
// example files.
func TestREADMEDeploymentConfigs(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readme)
	start := strings.Index(doc, "\n## Deployment: several locations\n")
	if start < 0 {
		t.Fatal(`README.md has no "## Deployment: several locations" section`)
	}
	section := doc[start+1:]
	section = section[:strings.Index(section, "\n## ")+1]
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) != 2 {
		t.Fatalf("the deployment section has %d yaml blocks, want the holder's and a prober's", len(blocks))
	}
	addr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	dir := t.TempDir()
	ca, err := demo.StartCA(demo.CAOptions{Listen: addr(), ACMEListen: addr(), Dir: filepath.Join(dir, "ca"), Interval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(true)
	var frag bytes.Buffer
	if err := ca.Fragment(&frag); err != nil {
		t.Fatal(err)
	}
	load := func(name, body string) *config.Config {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body+frag.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path, probes.Kinds())
		if err != nil {
			t.Fatalf("README's %s does not load:\n%s\n%v", name, body, err)
		}
		return cfg
	}
	holder := load("tokyo.yaml", blocks[0][1])
	prober := load("osaka.yaml", blocks[1][1])
	if holder.Prober() || holder.Location != "tokyo-1" || holder.Incidents.EffectiveQuorum() != 2 || holder.Server.AdminListen == "" {
		t.Errorf("README's holder: role %s, location %s, quorum %d, admin_listen %q", holder.Role, holder.Location, holder.Incidents.Quorum, holder.Server.AdminListen)
	}
	if !prober.Prober() || prober.Location != "osaka-1" {
		t.Errorf("README's prober: role %s, location %s", prober.Role, prober.Location)
	}
	if holder.Incidents.FailuresToOpen != prober.Incidents.FailuresToOpen || holder.Incidents.SuccessesToClose != prober.Incidents.SuccessesToClose {
		t.Errorf("holder and prober judge down differently: %+v vs %+v", holder.Incidents, prober.Incidents)
	}
	for _, p := range prober.Probes {
		if p.Period() != 10*time.Second {
			t.Errorf("probe %s runs every %s; the README's delays assume 10s", p.Name, p.Period())
		}
	}
	// The settings the delay table is computed from are the shipped ones.
	files := map[string][]string{
		"../../prometheus/alertmanager.example.yml": {"group_wait: 5s", "group_interval: 10s", "send_resolved: true"},
		"../../prometheus/prometheus.example.yml":   {"scrape_interval: 15s", "honor_labels: true"},
		"../../prometheus/probed.rules.yml":         {"- name: probed-availability\n    # Evaluated every 5s", "    interval: 5s\n    rules:\n"},
	}
	for file, wants := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q, which the README's delay table assumes", file, w)
			}
		}
	}
	rules, _ := os.ReadFile("../../prometheus/probed.rules.yml")
	quorum := string(rules)[strings.Index(string(rules), "- alert: ProbeDownQuorum"):]
	quorum = quorum[:strings.Index(quorum, "annotations:")]
	if strings.Contains(quorum, "for:") {
		t.Errorf("ProbeDownQuorum has a for:, which the README's delay table says it has not:\n%s", quorum)
	}
}
