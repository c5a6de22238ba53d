package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probed/probed/config"
)

// FuzzParse: whatever the bytes, Parse returns a config or Errors whose
// every entry names the file and a line inside it, and never panics.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("probes: [~, {name: [1]}, {<<: [*x]}]"))
	f.Add([]byte("a: &a {b: *a}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join("testdata", "fuzz.yml")
		cfg, err := config.Parse(data, file, kinds)
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without an error")
			}
			return
		}
		var errs config.Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %T %v, want config.Errors", err, err)
		}
		// An upper bound on YAML's line count: it also breaks lines at \r,
		// NEL, LS and PS.
		lines := 1
		for _, sep := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
			lines += strings.Count(string(data), sep)
		}
		for _, e := range errs {
			if e.File != file || e.Line < 0 || e.Line > lines+1 || e.Msg == "" {
				t.Errorf("bad error %+v in a %d-line file", e, lines)
			}
		}
	})
}
