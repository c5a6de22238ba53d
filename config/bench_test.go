package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probed/probed/config"
)

// Loading is on the reload path: a SIGHUP re-reads and re-validates the
// whole file before anything changes. Rerun:
//
//	go test -run '^$' -bench Load -benchmem ./config
func BenchmarkLoadShipped(b *testing.B) {
	path := filepath.Join("..", "probes.yaml")
	kinds := []string{"acme", "crl", "http", "ocsp", "tsa"}
	for b.Loop() {
		if _, err := config.Load(path, kinds); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad10kProbes loads a file of 10,000 http probes over 100
// components, the scheduler benchmark's scale.
func BenchmarkLoad10kProbes(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("components:\n")
	for g := range 10 {
		fmt.Fprintf(&sb, "  - id: g%d\n    name: Group %d\n    components:\n", g, g)
		for l := range 10 {
			fmt.Fprintf(&sb, "      - {id: c%d-%d, name: Leaf %d}\n", g, l, l)
		}
	}
	sb.WriteString("probes:\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, "  - {name: p%d, component: c%d-%d, kind: http, interval: 60s, http: {url: \"http://127.0.0.1:8080/p%d\", status: [200], body_matches: [ok]}}\n", i, i%10, (i/10)%10, i)
	}
	path := filepath.Join(b.TempDir(), "probes.yaml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		if _, err := config.Load(path, []string{"http"}); err != nil {
			b.Fatal(err)
		}
	}
}
