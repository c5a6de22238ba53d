package config

import (
	"path/filepath"
	"testing"
)

// TestRoleAndStaleness: the role key and incidents.stale_intervals are
// checked like every other key, with the exact report an operator sees.
func TestRoleAndStaleness(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"role: probe", `probes.yaml:1: role: must be holder (drafts incidents, serves the page) or prober (probes and metrics only), got "probe"`},
		{"role: Prober", `probes.yaml:1: role: must be holder (drafts incidents, serves the page) or prober (probes and metrics only), got "Prober"`},
		{"role: ''", `probes.yaml:1: role: must be holder (drafts incidents, serves the page) or prober (probes and metrics only), got ""`},
		{"incidents:\n  stale_intervals: 0", "probes.yaml:2: incidents.stale_intervals: must be at least 1 (intervals a location may stay silent before it leaves the quorum), got 0"},
		{"incidents:\n  stale_intervals: soon", `probes.yaml:2: incidents.stale_intervals: want a whole number, got text "soon"`},
		{"rol: prober", "probes.yaml:1: rol: unknown key (did you mean role?)"},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "probes.yaml")
			_, err := Parse([]byte(tc.doc+"\n"), file, nil)
			if err == nil {
				t.Fatal("accepted")
			}
			if got, want := err.Error(), filepath.Dir(file)+"/"+tc.want; got != want {
				t.Errorf("error =\n%s\nwant\n%s", got, want)
			}
		})
	}
	for _, role := range []string{"holder", "prober"} {
		cfg, err := Parse([]byte("role: "+role+"\n"), filepath.Join(t.TempDir(), "probes.yaml"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Role != role || cfg.Prober() != (role == "prober") {
			t.Errorf("role %s: Role %q, Prober() %v", role, cfg.Role, cfg.Prober())
		}
	}
}
